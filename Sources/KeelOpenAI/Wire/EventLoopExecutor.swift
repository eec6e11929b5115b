import NIOCore

/// A Swift concurrency task executor that runs jobs on one NIO event loop.
///
/// Code that mostly waits on channels of that loop — an HTTP exchange, a server connection — can
/// run there with `withTaskExecutorPreference(_:)`: its suspensions and resumptions then stay on
/// the loop's thread instead of crossing to the cooperative pool and back for every part of the
/// exchange. On a virtual machine, where waking a sleeping thread costs tens of microseconds, that
/// is the larger part of a loopback round trip.
///
/// ```swift
/// let executor = EventLoopExecutor(channel.eventLoop)
/// try await withTaskExecutorPreference(executor) { try await serve(channel) }
/// ```
public final class EventLoopExecutor: TaskExecutor {
    /// The loop jobs run on.
    public let eventLoop: any EventLoop

    /// An executor for `eventLoop`.
    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
