import Foundation

/// A run's deadline on the clock the agent runs on. The wall-clock deadline is turned into the
/// time left once, when the loop starts; from then on it is measured on the agent's clock, so the
/// driver reads no wall clock per step and a test moves a `TestClock` past it instead of sleeping.
/// Passing it is an event of the loop (``AgentLoop/Event/deadlinePassed(finalAnswer:)``).
struct RunDeadline: Sendable {
    private let passed: @Sendable () -> Bool

    /// `deadline` as seen at `now`, measured from then on `clock`.
    init(_ deadline: Date, clock: any Clock<Duration>, now: Date = Date()) {
        let left = deadline.timeIntervalSince(now)
        // Already passed, or further off than any run lasts: no clock arithmetic on either.
        guard left > 0 else {
            passed = { true }
            return
        }
        guard let remaining = Duration(boundedSeconds: left) else {
            passed = { false }
            return
        }
        passed = Self.watch(clock, remaining)
    }

    /// Whether the deadline has passed.
    var hasPassed: Bool { passed() }

    private static func watch<C: Clock<Duration>>(_ clock: C, _ remaining: Duration) -> @Sendable () -> Bool {
        let end = clock.now.advanced(by: remaining)
        return { clock.now >= end }
    }
}
