import KeelApp
import NIOCore

/// A Swift concurrency task executor that runs jobs on one NIO event loop.
///
/// Keel's benchmarks use it to run an agent, its HTTP client and the local server on one thread
/// with `withTaskExecutorPreference(_:)`, which measures the CPU cost of a step without the
/// scheduler's share (on a virtual machine, waking a sleeping thread costs tens of
/// microseconds).
///
/// ```swift
/// let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
/// try await withTaskExecutorPreference(EventLoopExecutor(group.next())) {
///     try await OpenAICompatibleServer.withServer(eventLoopGroup: group, responder: responder) { server in … }
/// }
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
