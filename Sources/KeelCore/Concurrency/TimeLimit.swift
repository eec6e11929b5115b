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
    try await race(limit: limit, onTimeout: onTimeout, watcher: watcher, body)
}

/// Runs `body` until it ends — or until `watcher` returns an error first (such as "this
/// process lost its lease"), when `body` is cancelled and abandoned, as in
/// ``withTimeLimit(_:onTimeout:watcher:_:)``. Cancelling the caller cancels and abandons `body`
/// too: the caller never waits for work that ignores cancellation.
public func withWatcher<T: Sendable>(
    _ watcher: @escaping @Sendable () async -> any Error, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await race(limit: nil, onTimeout: { CancellationError() }, watcher: watcher, body)
}

private func race<T: Sendable>(
    limit: Duration?, onTimeout: @escaping @Sendable () -> any Error, watcher: (@Sendable () async -> any Error)?,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = FirstResult<T>()
    let work = Task { try await body() }
    let timer = limit.map { limit in
        Task {
            try await Task.sleep(for: limit)
            work.cancel()
            race.finish(.failure(onTimeout()))
        }
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
        timer?.cancel()
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

    // A continuation is resumed only after the lock is let go. Resuming takes the task's own
    // status lock, and a cancellation handler runs under that lock and calls `finish`: resuming
    // under this lock deadlocked the two threads (a worker that never stopped after an outage).

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let early = state.early {
                state.done = true
                return early
            }
            state.waiter = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func finish(_ result: Result<T, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.done else { return nil }
            if let waiter = state.waiter {
                state.done = true
                state.waiter = nil
                return waiter
            }
            if state.early == nil { state.early = result }
            return nil
        }
        waiter?.resume(with: result)
    }
}
