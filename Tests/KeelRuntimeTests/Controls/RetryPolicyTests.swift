import KeelCore
import KeelRuntime
import KeelTesting
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(5))) struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 5, initialBackoff: .seconds(1), maxBackoff: .seconds(8))

    @Test func backoffIsExponentialWithFullJitterAndACap() {
        let error = ModelError(.server, message: "x")
        #expect(policy.delay(after: error, attempt: 1, random: 1) == .seconds(1))
        #expect(policy.delay(after: error, attempt: 2, random: 1) == .seconds(2))
        #expect(policy.delay(after: error, attempt: 3, random: 1) == .seconds(4))
        #expect(policy.delay(after: error, attempt: 4, random: 1) == .seconds(8))
        #expect(policy.delay(after: error, attempt: 9, random: 1) == .seconds(8))
        #expect(policy.delay(after: error, attempt: 3, random: 0.25) == .seconds(1))
        #expect(policy.delay(after: error, attempt: 3, random: 0) == .zero)
    }

    @Test func retryAfterIsAFloor() {
        let limited = ModelError(.rateLimited, message: "slow down", retryAfter: .seconds(7))
        #expect(policy.delay(after: limited, attempt: 1, random: 0) == .seconds(7))
        #expect(policy.delay(after: limited, attempt: 5, random: 1) == .seconds(8))
    }

    @Test func onlyChosenErrorClassesAreRetried() {
        #expect(policy.shouldRetry(ModelError(.overloaded, message: ""), attempt: 1))
        #expect(!policy.shouldRetry(ModelError(.authentication, message: ""), attempt: 1))
        #expect(!policy.shouldRetry(ModelError(.invalidRequest, message: ""), attempt: 1))
        #expect(!policy.shouldRetry(ModelError(.server, message: ""), attempt: 5))
        #expect(!policy.shouldRetry(CancellationError(), attempt: 1))
        #expect(!policy.shouldRetry(ModelError(.rateLimited, message: "", retryAfter: .seconds(600)), attempt: 1))
    }

    @Test func runRetriesOnTheInjectedClockWithoutSleeping() async throws {
        let clock = TestClock()
        let attempts = Mutex<[Int]>([])
        async let value: String = policy.run(clock: clock, random: { 1 }) { attempt in
            attempts.withLock { $0.append(attempt) }
            if attempt < 3 { throw ModelError(.server, message: "try again") }
            return "ok"
        }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        await clock.waitForSleepers(1)
        #expect(attempts.withLock { $0 } == [1, 2])
        clock.advance(by: .seconds(2))
        #expect(try await value == "ok")
        #expect(attempts.withLock { $0 } == [1, 2, 3])
    }
}
