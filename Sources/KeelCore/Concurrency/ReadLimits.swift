import Synchronization

/// How long reading a response may take: between two pieces of it, and in all.
///
/// A server that stops sending without closing the connection — a stalled stream, a proxy that
/// holds the socket, a peer whose end was inherited by another process — would otherwise keep a
/// read waiting for ever. ``withReadLimits(_:_:onIdle:onDeadline:_:)`` enforces both limits.
public struct ReadLimits: Sendable {
    /// The longest wait for the next piece of a response once it has begun.
    public var idle: Duration
    /// When the whole response must have arrived.
    public var deadline: ContinuousClock.Instant

    public init(idle: Duration, deadline: ContinuousClock.Instant) {
        self.idle = idle
        self.deadline = deadline
    }
}

/// Reads `sequence` in a child task and hands its elements to `body` as a stream that fails with
/// `onIdle()` when no element arrives for `limits.idle`, or with `onDeadline()` once
/// `limits.deadline` has passed.
///
/// The idle time is the network's: elements are read as they come (and buffered) while `body` is
/// busy with earlier ones, so a slow consumer never counts as a silent server. When `body` returns
/// or throws, reading stops (the child task is cancelled).
///
/// ```swift
/// let limits = ReadLimits(idle: .seconds(60), deadline: .now + .seconds(600))
/// let bytes = try await withReadLimits(response.body, limits, onIdle: { … }, onDeadline: { … }) { chunks in
///     for try await chunk in chunks { … }
/// }
/// ```
public func withReadLimits<Base: AsyncSequence & Sendable, Result>(
    _ sequence: Base, _ limits: ReadLimits, onIdle: @escaping @Sendable () -> any Error,
    onDeadline: @escaping @Sendable () -> any Error, isolation: isolated (any Actor)? = #isolation,
    _ body: (AsyncThrowingStream<Base.Element, any Error>) async throws -> Result
) async throws -> Result where Base.Element: Sendable {
    let (stream, continuation) = AsyncThrowingStream<Base.Element, any Error>.makeStream()
    let lastArrival = LastArrival()
    return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
        group.addTask {
            do {
                for try await element in sequence {
                    lastArrival.mark()
                    continuation.yield(element)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        group.addTask {
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if now >= limits.deadline {
                    continuation.finish(throwing: onDeadline())
                    return
                }
                let idleEnds = lastArrival.instant + limits.idle
                if now >= idleEnds {
                    continuation.finish(throwing: onIdle())
                    return
                }
                try? await Task.sleep(until: min(idleEnds, limits.deadline), clock: .continuous)
            }
        }
        defer { group.cancelAll() }
        return try await body(stream)
    }
}

/// When the last element arrived.
private final class LastArrival: Sendable {
    private let state = Mutex(ContinuousClock.now)

    var instant: ContinuousClock.Instant { state.withLock { $0 } }

    func mark() {
        state.withLock { $0 = .now }
    }
}
