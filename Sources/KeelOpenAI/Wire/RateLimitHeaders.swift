import Foundation
import KeelCore

/// Reads OpenAI's rate-limit headers (`x-ratelimit-*`, `retry-after`, `retry-after-ms`).
package enum RateLimitHeaders {
    /// The snapshot, or `nil` when no rate-limit header is present.
    package static func parse(_ headers: [(String, String)], now: Date = Date()) -> RateLimitSnapshot? {
        var lookup: [String: String] = [:]
        for (name, value) in headers { lookup[name.lowercased()] = value.trimmingCharacters(in: .whitespaces) }
        var snapshot = RateLimitSnapshot()
        snapshot.requestLimit = lookup["x-ratelimit-limit-requests"].flatMap { Int($0) }
        snapshot.tokenLimit = lookup["x-ratelimit-limit-tokens"].flatMap { Int($0) }
        snapshot.remainingRequests = lookup["x-ratelimit-remaining-requests"].flatMap { Int($0) }
        snapshot.remainingTokens = lookup["x-ratelimit-remaining-tokens"].flatMap { Int($0) }
        snapshot.requestsReset = lookup["x-ratelimit-reset-requests"].flatMap(parseDuration)
        snapshot.tokensReset = lookup["x-ratelimit-reset-tokens"].flatMap(parseDuration)
        if let milliseconds = lookup["retry-after-ms"].flatMap({ Double($0) }), milliseconds >= 0 {
            snapshot.retryAfter = .milliseconds(milliseconds)
        } else if let value = lookup["retry-after"] {
            snapshot.retryAfter = parseRetryAfter(value, now: now)
        }
        return snapshot.isEmpty ? nil : snapshot
    }

    /// `Retry-After` is either seconds (possibly fractional) or an HTTP date.
    package static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        if let seconds = Double(value), seconds.isFinite, seconds >= 0 { return .milliseconds(seconds * 1000) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, date.timeIntervalSince(now)) * 1000)
    }

    /// Durations such as `1s`, `6m0s`, `20ms`, `1h2m3.5s`; a bare number is seconds.
    package static func parseDuration(_ text: String) -> Duration? {
        Duration(parsing: text)
    }
}
