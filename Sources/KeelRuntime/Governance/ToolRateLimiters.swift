import Synchronization

/// Per-tool call limits of one governance (and its copies) in this process: a bucket per tool
/// that refills continuously; a call that finds it empty is refused rather than made to wait.
final class ToolRateLimiters: Sendable {
    final class Limiter: Sendable {
        private struct State {
            var level: Double
            var updated: ContinuousClock.Instant
        }

        let perMinute: Int
        private let state: Mutex<State>

        init(perMinute: Int) {
            self.perMinute = max(1, perMinute)
            state = Mutex(State(level: Double(max(1, perMinute)), updated: .now))
        }

        /// Takes one call if the bucket has one.
        func tryTake() -> Bool {
            state.withLock { state in
                let now = ContinuousClock.now
                let elapsed = now - state.updated
                let seconds = elapsed.timeInterval
                state.level = min(Double(perMinute), state.level + seconds * Double(perMinute) / 60)
                state.updated = now
                guard state.level >= 1 else { return false }
                state.level -= 1
                return true
            }
        }
    }

    private let limiters = Mutex<[String: Limiter]>([:])

    func limiter(for tool: String, perMinute: Int) -> Limiter {
        limiters.withLock { limiters in
            if let existing = limiters[tool], existing.perMinute == perMinute { return existing }
            let limiter = Limiter(perMinute: perMinute)
            limiters[tool] = limiter
            return limiter
        }
    }
}
