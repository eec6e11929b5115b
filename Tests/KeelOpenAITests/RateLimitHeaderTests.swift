import Foundation
import KeelHTTP
import Testing

@testable import KeelOpenAI

@Suite(.timeLimit(.minutes(5))) struct RateLimitHeaderTests {
    @Test(arguments: [
        ("1s", Duration.seconds(1)), ("6m0s", .seconds(360)), ("20ms", .milliseconds(20)), ("1h2m3.5s", .milliseconds(3_723_500)),
        ("0.5", .milliseconds(500)), ("2", .seconds(2)),
    ])
    func parsesResetDurations(text: String, expected: Duration) {
        #expect(RateLimitHeaders.parseDuration(text) == expected)
    }

    @Test(arguments: ["", "soon", "5x", "m"])
    func refusesWhatIsNotADuration(text: String) {
        #expect(RateLimitHeaders.parseDuration(text) == nil)
    }

    @Test func retryAfterMayBeAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let later = "Tue, 14 Nov 2023 22:13:50 GMT"  // 30 seconds after `now`
        #expect(HeaderValues.retryAfter(later, now: now) == .seconds(30))
    }

    @Test func retryAfterMillisecondsWins() {
        let snapshot = RateLimitHeaders.parse([("Retry-After", "2"), ("retry-after-ms", "1500")])
        #expect(snapshot?.retryAfter == .milliseconds(1500))
        #expect(RateLimitHeaders.parse([("content-type", "application/json")]) == nil)
    }

    @Test func headerNamesAreMatchedWhateverTheirCase() {
        let snapshot = RateLimitHeaders.parse([
            ("Content-Type", "application/json"), ("X-RateLimit-Remaining-Requests", " 42 "), ("x-ratelimit-limit-tokens", "1000"),
            ("X-Ratelimit", "ignored"), ("Retry", "ignored"),
        ])
        #expect(snapshot?.remainingRequests == 42)
        #expect(snapshot?.tokenLimit == 1000)
        #expect(RateLimitHeaders.isRateLimitHeader("RETRY-AFTER-MS"))
        #expect(!RateLimitHeaders.isRateLimitHeader("x-ratelimit"))
        #expect(!RateLimitHeaders.isRateLimitHeader("x-request-id"))
    }

    /// Values that trapped in `Duration`'s initialisers (also in release builds) are ignored now.
    @Test(arguments: [
        ("retry-after-ms", "inf"), ("retry-after-ms", "nan"), ("retry-after-ms", "-1"), ("retry-after-ms", "1e30"),
        ("retry-after", "1e21"), ("retry-after", "-inf"), ("retry-after", String(repeating: "9", count: 400)),
        ("x-ratelimit-reset-tokens", "1e300"), ("x-ratelimit-reset-requests", "1e300s"), ("x-ratelimit-reset-tokens", "99999999999999999h"),
    ])
    func absurdDurationsAreIgnoredNotTrappedOn(name: String, value: String) {
        let snapshot = RateLimitHeaders.parse([(name, value), ("x-ratelimit-limit-requests", "60")])
        #expect(snapshot?.retryAfter == nil)
        #expect(snapshot?.tokensReset == nil)
        #expect(snapshot?.requestsReset == nil)
        #expect(snapshot?.requestLimit == 60)
    }

    @Test func negativeRemainingCountsAreZero() {
        let snapshot = RateLimitHeaders.parse([("x-ratelimit-remaining-requests", "-5"), ("x-ratelimit-remaining-tokens", "-99999999999")])
        #expect(snapshot?.remainingRequests == 0)
        #expect(snapshot?.remainingTokens == 0)
        #expect(RateLimitHeaders.parse([("x-ratelimit-remaining-tokens", "99999999999999999999999")])?.remainingTokens == nil)
    }

    @Test func aYearLongRetryAfterIsParsedAndBoundedForLimiters() {
        let snapshot = RateLimitHeaders.parse([("retry-after", "31536000")])
        #expect(snapshot?.retryAfter == .seconds(31_536_000))
        #expect(snapshot?.bounded().retryAfter == .seconds(120))
        #expect(snapshot?.bounded(longestPause: .seconds(5)).retryAfter == .seconds(5))
    }
}
