import Dispatch
import Synchronization

/// Runs `body` in a child task and returns its result, or throws `onTimeout` when `timeout`
/// passes first; the body is then cancelled (and awaited, as structured concurrency requires).
///
/// On the `ContinuousClock` the deadline is kept by ``DeadlineScheduler``, one timer for the whole
/// process, so a call costs one child task — started immediately on this thread — and no timer of
/// its own; other clocks (such as a test clock) race the body against a sleep on that clock.
func withTimeout<T: Sendable>(
    _ timeout: Duration, clock: any Clock<Duration>, onTimeout: some Error & Sendable,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    guard clock is ContinuousClock else {
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await clock.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw onTimeout }
            return value
        }
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        let race = Race<T>()
        @Sendable func runBody() async {
            do {
                race.finish(.success(try await body()))
            } catch {
                race.finish(.failure(error))
            }
        }
        // An immediate task runs on this thread until it first suspends: a quick tool finishes
        // without a thread hop, a slow one carries on elsewhere and can still be timed out.
        if #available(macOS 26.0, iOS 26.0, watchOS 26.0, tvOS 26.0, visionOS 26.0, *) {
            group.addImmediateTask { await runBody() }
        } else {
            group.addTask { await runBody() }
        }
        // A body that finished before it ever suspended needs no deadline.
        guard !race.isFinished else { return try await race.value() }
        let timer = DeadlineScheduler.shared.schedule(at: .now + timeout) { race.finish(.failure(onTimeout)) }
        defer { DeadlineScheduler.shared.cancel(timer) }
        // Throwing out of the group (a timeout) cancels the body.
        return try await race.value()
    }
}

/// The first of several outcomes, delivered to one waiter.
final class Race<T: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<T, any Error>)
        case finished(Result<T, any Error>)
        case delivered
    }

    private let state = Mutex(State.pending)

    /// Whether an outcome has been recorded.
    var isFinished: Bool {
        state.withLock { state in
            if case .finished = state { return true }
            return false
        }
    }

    /// Records an outcome; only the first counts.
    func finish(_ result: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { state in
            switch state {
            case .pending:
                state = .finished(result)
                return nil
            case .waiting(let continuation):
                state = .delivered
                return continuation
            case .finished, .delivered:
                return nil
            }
        }
        waiter?.resume(with: result)
    }

    /// Waits for the first outcome; cancelling the waiting task finishes the race with
    /// `CancellationError`.
    func value() async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let ready: Result<T, any Error>? = state.withLock { state in
                    switch state {
                    case .pending:
                        state = .waiting(continuation)
                        return nil
                    case .finished(let result):
                        state = .delivered
                        return result
                    case .waiting, .delivered:
                        return .failure(CancellationError())
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            finish(.failure(CancellationError()))
        }
    }
}

/// One process-wide timer for deadlines on the `ContinuousClock`: scheduling and cancelling a
/// deadline take a lock, not a timer of their own, and the timer is re-armed only when a deadline
/// earlier than the armed one arrives.
final class DeadlineScheduler: @unchecked Sendable {
    // @unchecked: `timer` is only touched under `state`'s lock or on `queue`.
    static let shared = DeadlineScheduler()

    struct Token: Sendable, Hashable { fileprivate let id: Int }

    private struct Entry {
        var deadline: ContinuousClock.Instant
        var fire: @Sendable () -> Void
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextID = 0
        var armedFor: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "keel.deadlines")
    private let timer: any DispatchSourceTimer

    private init() {
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [unowned self] in self.fireDue() }
        timer.activate()
    }

    /// Calls `fire` at `deadline` unless cancelled first.
    func schedule(at deadline: ContinuousClock.Instant, _ fire: @escaping @Sendable () -> Void) -> Token {
        state.withLock { state in
            state.nextID += 1
            state.entries[state.nextID] = Entry(deadline: deadline, fire: fire)
            if state.armedFor.map({ deadline < $0 }) ?? true { arm(&state, for: deadline) }
            return Token(id: state.nextID)
        }
    }

    /// Forgets a deadline that has not fired.
    func cancel(_ token: Token) {
        _ = state.withLock { $0.entries.removeValue(forKey: token.id) }
    }

    private func arm(_ state: inout State, for deadline: ContinuousClock.Instant) {
        state.armedFor = deadline
        let delay = ContinuousClock.now.duration(to: deadline)
        timer.schedule(deadline: .now() + .nanoseconds(Int(max(0, delay.saturatingNanoseconds))), leeway: .milliseconds(1))
    }

    private func fireDue() {
        let due: [Entry] = state.withLock { state in
            let now = ContinuousClock.now
            let due = state.entries.filter { $0.value.deadline <= now }
            for id in due.keys { state.entries.removeValue(forKey: id) }
            state.armedFor = nil
            if let next = state.entries.values.map(\.deadline).min() { arm(&state, for: next) }
            return Array(due.values)
        }
        for entry in due { entry.fire() }
    }
}
