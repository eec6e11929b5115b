import KeelCore
import Testing

/// `withTimeLimit` and `withWatcher` abandon what ignores cancellation, and never deadlock when a
/// body's end and its caller's cancellation come at once.
@Suite(.timeLimit(.minutes(2))) struct TimeLimitTests {
    struct Lost: Error {}

    @Test func aBodyThatIgnoresCancellationIsAbandonedAtTheLimit() async {
        let started = ContinuousClock.now
        do {
            _ = try await withTimeLimit(.milliseconds(50), onTimeout: { Lost() }) {
                // Ignores cancellation for a long time.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    Task.detached {
                        try? await Task.sleep(for: .seconds(30))
                        continuation.resume()
                    }
                }
                return 1
            }
            Issue.record("the limit did not end the call")
        } catch {
            #expect(error is Lost)
        }
        // Far less than the body's 30 s, whatever else the machine is doing.
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func theWatchersErrorEndsTheBody() async {
        do {
            _ = try await withWatcher({
                try? await Task.sleep(for: .milliseconds(20))
                return Lost()
            }) {
                try await Task.sleep(for: .seconds(30))
                return 1
            }
            Issue.record("the watcher did not end the call")
        } catch {
            #expect(error is Lost)
        }
    }

    /// The body's end and the caller's cancellation, racing thousands of times. Resuming the
    /// caller while holding the race's lock deadlocked against a cancellation handler (which
    /// runs under the task's own lock and takes the race's): a worker once hung that way.
    static let rounds = 20_000

    @Test func endingAndCancellingAtOnceNeverDeadlocks() async {
        var outcomes: [String: Int] = [:]
        for round in 0..<Self.rounds {
            let call = Task {
                try await withWatcher({
                    try? await Task.sleep(for: .seconds(60))
                    return Lost()
                }) {
                    for _ in 0..<(round % 3) { await Task.yield() }
                    return 1
                }
            }
            // Cancelled from another thread, at a moment that moves around the body's end.
            let canceller = Task.detached {
                for _ in 0..<(round % 5) { await Task.yield() }
                call.cancel()
            }
            await canceller.value
            switch await call.result {
            case .success(let value): outcomes["value \(value)", default: 0] += 1
            case .failure(let error): outcomes[error is CancellationError ? "cancelled" : "\(error)", default: 0] += 1
            }
        }
        // Every call ended, with its value or as cancelled: nothing else.
        #expect(Set(outcomes.keys).isSubset(of: ["value 1", "cancelled"]), "\(outcomes)")
        #expect(outcomes.values.reduce(0, +) == Self.rounds)
    }
}
