import KeelRuntime
import ServiceLifecycle
import Synchronization

/// A worker as a swift-service-lifecycle `Service`: it runs a runtime's runnable runs, up to
/// `concurrency` at a time, until the service group shuts it down. Graceful shutdown stops it
/// claiming runs and lets those in hand finish or wait; cancellation gives them back, to be
/// resumed by another worker from their last journaled step.
///
/// ```swift
/// let worker = WorkerService(runtime: runtime, concurrency: 8)
/// try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public struct WorkerService: Service {
    public let runtime: DurableRuntime
    public let concurrency: Int
    public let pollInterval: Duration

    public init(runtime: DurableRuntime, concurrency: Int, pollInterval: Duration = .milliseconds(250)) {
        self.runtime = runtime
        self.concurrency = concurrency
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        let stopping = Atomic(false)
        await withGracefulShutdownHandler {
            await runtime.work(concurrency: concurrency, pollInterval: pollInterval, isStopping: { stopping.load(ordering: .acquiring) })
        } onGracefulShutdown: {
            stopping.store(true, ordering: .releasing)
        }
    }
}

/// ``KeelRuntime/StoreGauges`` as a `Service`: samples until the service group shuts down.
public struct StoreGaugesService: Service {
    public let gauges: StoreGauges

    public init(gauges: StoreGauges) {
        self.gauges = gauges
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await gauges.run() }
    }
}
