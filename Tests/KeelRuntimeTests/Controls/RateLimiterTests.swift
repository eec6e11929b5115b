import KeelCore
import KeelRuntime
import KeelTesting
import Synchronization
import Testing

/// The token buckets, on a test clock: no real waiting.
@Suite(.timeLimit(.minutes(5))) struct RateLimiterTests {
    @Test func callersWaitTheirTurnFirstComeFirstServed() async throws {
        let clock = TestClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 60, utilization: 1), startFull: false, clock: clock)
        let done = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 1...3 {
                group.addTask {
                    try await limiter.acquire(tokens: 0)
                    done.withLock { $0.append(index) }
                }
                await clock.waitForSleepers(index)  // each caller takes its turn before the next asks
            }
            #expect(done.withLock { $0 }.isEmpty)
            clock.advance(by: .seconds(1))
            await waitUntil { done.withLock { $0.count } == 1 }
            clock.advance(by: .seconds(1))
            await waitUntil { done.withLock { $0.count } == 2 }
            clock.advance(by: .seconds(1))
            try await group.waitForAll()
        }
        #expect(done.withLock { $0 } == [1, 2, 3])
    }

    @Test func tokensPerMinuteBindWhenRequestsDoNot() {
        let clock = TestClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 1_000, tokensPerMinute: 6_000, burstSeconds: 60, utilization: 1), clock: clock)
        #expect(limiter.currentWait(tokens: 6_000) == .zero)
        #expect(limiter.currentWait(tokens: 7_000) == .seconds(10))
    }

    /// A full bucket holds one second of the limit (providers enforce per-minute limits over short
    /// windows), and refills at 97 % of it.
    @Test func aFullBucketHoldsOneSecondOfTheLimit() async throws {
        let clock = TestClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 600), clock: clock)
        for _ in 0..<10 { try await limiter.acquire(tokens: 0) }
        let wait = limiter.currentWait(tokens: 0)
        #expect(abs(wait.timeInterval - 1 / (10 * 0.97)) < 0.000_001)
        // A minute of quiet fills it to one second's worth again, not to a minute's.
        clock.advance(by: .seconds(60))
        for _ in 0..<10 { try await limiter.acquire(tokens: 0) }
        #expect(limiter.currentWait(tokens: 0) > .zero)
    }

    @Test func theProvidersHeadersLowerTheBuckets() {
        let clock = TestClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 600, tokensPerMinute: 60_000, utilization: 1), clock: clock)
        #expect(limiter.currentWait(tokens: 100) == .zero)
        limiter.observe(RateLimitSnapshot(remainingRequests: 0, remainingTokens: 50_000))
        #expect(limiter.currentWait(tokens: 100) == .milliseconds(100))  // one request refills in 0.1 s
    }

    /// The provider's stated limit is the key's real tier when it is lower than the one configured.
    @Test func aLowerLimitTheProviderStatesIsLearned() {
        let clock = TestClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 600, utilization: 1), clock: clock)
        limiter.observe(RateLimitSnapshot(requestLimit: 60, remainingRequests: 59))
        #expect(limiter.currentWait(tokens: 0) == .zero)
        limiter.observe(RateLimitSnapshot(requestLimit: 60, remainingRequests: 0))
        #expect(limiter.currentWait(tokens: 0) == .seconds(1))  // 60 a minute: one a second
        // A higher stated limit is not taken: the configured tier is the most Keel sends.
        limiter.observe(RateLimitSnapshot(requestLimit: 6_000))
        #expect(limiter.currentWait(tokens: 0) == .seconds(1))
    }

    @Test func aRetryAfterPausesEveryCaller() {
        let clock = TestClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 600), clock: clock)
        limiter.observe(RateLimitSnapshot(retryAfter: .seconds(3)))
        #expect(limiter.currentWait(tokens: 0) == .seconds(3))
        clock.advance(by: .seconds(2))
        #expect(limiter.currentWait(tokens: 0) == .seconds(1))
    }

    @Test func aWaitLongerThanAllowedFailsAtOnceAsRateLimited() async throws {
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 6, utilization: 1), startFull: false, clock: TestClock())
        await #expect {
            try await limiter.acquire(tokens: 0, maxWait: .seconds(1))
        } throws: { error in
            (error as? ModelError)?.code == .rateLimited && (error as? ModelError)?.retryAfter == .seconds(10)
        }
        #expect(limiter.currentWait(tokens: 0) == .seconds(10))  // the refused caller took nothing
    }

    @Test func aFallbackTakesOverWhenTheFirstModelIsOverloaded() async throws {
        let first = ScriptedModel(name: "big", [.error(ModelError(.overloaded, message: "busy", statusCode: 503))])
        let second = ScriptedModel(name: "small", [.text("from the second")])
        let response = try await FallbackModel([first, second]).respond(to: ChatRequest(messages: [.user("hi")]))
        #expect(response.message.text == "from the second")
        #expect(response.servedBy == "scripted:small")
        let unrecovered = FallbackModel([ScriptedModel([.error(ModelError(.authentication, message: "bad key"))]), second])
        await #expect { _ = try await unrecovered.respond(to: ChatRequest(messages: [.user("hi")])) } throws: { error in
            (error as? ModelError)?.code == .authentication
        }
    }
}

/// Yields until `condition` holds (for tasks released by a test clock).
func waitUntil(_ condition: () -> Bool) async {
    while !condition() { await Task.yield() }
}
