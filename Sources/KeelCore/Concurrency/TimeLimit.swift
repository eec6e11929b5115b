import Synchronization

/// Runs `body`, failing with `onTimeout()` if it takes longer than `limit` — or with the error
/// `watcher` returns, if it returns first (such as "the server's process exited").
///
/// Unlike a task group, this does not wait for `body` once the time is up: `body` is cancelled
/// and abandoned, so a call that ignores cancellation (a request nobody will ever answer) cannot
/// hold its caller.
public func withTimeLimit<T: Sendable>(
    _ limit: Duration, onTimeout: @escaping @Sendable () -> any Error, watcher: (@Sendable () async -> any Error)? = nil,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = FirstResult<T>()
    let work = Task { try await body() }
    let timer = Task {
        try await Task.sleep(for: limit)
        work.cancel()
        race.finish(.failure(onTimeout()))
    }
    let watching = watcher.map { watcher in
        Task {
            let error = await watcher()
            guard !Task.isCancelled else { return }
            work.cancel()
            race.finish(.failure(error))
        }
    }
    defer {
        timer.cancel()
        watching?.cancel()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.wait(continuation)
            Task { race.finish(await work.result) }
        }
    } onCancel: {
        work.cancel()
        race.finish(.failure(CancellationError()))
    }
}

/// The first of several results to arrive, handed to a waiter that may come before or after it.
private final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var waiter: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var done = false
    }

    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { state in
            if let early = state.early {
                state.done = true
                continuation.resume(with: early)
            } else {
                state.waiter = continuation
            }
        }
    }

    func finish(_ result: Result<T, any Error>) {
        state.withLock { state in
            guard !state.done else { return }
            if let waiter = state.waiter {
                state.done = true
                state.waiter = nil
                waiter.resume(with: result)
            } else if state.early == nil {
                state.early = result
            }
        }
    }
}
