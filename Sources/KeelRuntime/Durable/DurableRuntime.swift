import Foundation
import KeelCore
import Logging
import Tracing

/// Runs workflows durably on a ``RunStore``: accepts runs, claims them under a lease renewed by
/// heartbeat, replays their journals, and records how each ended.
///
/// ```swift
/// let runtime = DurableRuntime(store: try SQLiteRunStore(path: "keel.db"), workflows: [AnyWorkflow(report)])
/// let record = try await runtime.start(report, input: request, runID: "order-42")
/// // … after a crash, in a new process:
/// let resumed = try await runtime.run("order-42")
/// ```
public final class DurableRuntime: Sendable {
    /// Leases, heartbeats and sleeps.
    public struct Configuration: Sendable {
        /// How long a claim lasts without a heartbeat. Default: 30 seconds.
        public var leaseDuration: Duration = .seconds(30)
        /// How often a running run's lease is renewed. Default: 10 seconds.
        public var heartbeatInterval: Duration = .seconds(10)
        /// Durable sleeps up to this long happen inside the process; longer ones put the run to
        /// wait so the process may exit. Default: 60 seconds.
        public var inlineSleepLimit: Duration = .seconds(60)

        public init() {}
    }

    public let store: any RunStore
    public let owner: RunOwner
    public let configuration: Configuration
    /// Told about every run that fails into the dead-letter queue — unless ``runAlerts`` names
    /// the run's own hook. Default: the log.
    public let alerts: any AlertHook
    /// The alert hook of one run (such as the one its input asks for), if it has its own.
    public let runAlerts: (@Sendable (RunRecord) -> any AlertHook)?
    private let workflows: [String: AnyWorkflow]
    private let clock: any Clock<Duration>
    private let logger: Logger

    public init(
        store: any RunStore, workflows: [AnyWorkflow], owner: RunOwner = .currentProcess(), configuration: Configuration = Configuration(),
        alerts: any AlertHook = LogAlertHook(), runAlerts: (@Sendable (RunRecord) -> any AlertHook)? = nil, clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "keel.runtime")
    ) {
        self.store = store
        self.alerts = alerts
        self.runAlerts = runAlerts
        self.owner = owner
        self.configuration = configuration
        self.workflows = Dictionary(workflows.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.clock = clock
        self.logger = logger
    }

    /// The names of the workflows this runtime can run.
    public var workflowNames: Set<String> { Set(workflows.keys) }

    /// Accepts a run durably (before any work) and returns it. Submitting the same run id again
    /// returns the existing run.
    public func submit<W: Workflow>(
        _ workflow: W, input: W.Input, runID: String = UUID().uuidString.lowercased(), tenant: String? = nil, deadline: Date? = nil
    ) async throws -> RunRecord {
        try await store.createRun(NewRun(id: runID, workflow: workflow.name, input: try JSONValue(encoding: input), tenant: tenant, deadline: deadline)).record
    }

    /// Accepts a run and runs it until it finishes or waits.
    public func start<W: Workflow>(
        _ workflow: W, input: W.Input, runID: String = UUID().uuidString.lowercased(), tenant: String? = nil, deadline: Date? = nil
    ) async throws -> RunRecord {
        let record = try await submit(workflow, input: input, runID: runID, tenant: tenant, deadline: deadline)
        return try await run(record.id)
    }

    /// Claims the run and runs it until it completes, fails or waits; returns how it ended.
    /// A finished run is returned as it is. Throws ``WorkflowError/Code/busy`` when another live
    /// process holds it.
    public func run(_ runID: String) async throws -> RunRecord {
        switch try await store.claim(runID: runID, owner: owner, leaseDuration: configuration.leaseDuration) {
        case .notFound:
            throw StoreError(.notFound, "no run '\(runID)'")
        case .finished(let record):
            return record
        case .busy(let other, let until):
            let when = until.map { " until \($0.formatted(.iso8601))" } ?? ""
            throw WorkflowError(.busy, "run '\(runID)' is being run by \(other)\(when)")
        case .claimed(let lease, let record):
            return try await execute(record, lease: lease)
        }
    }

    /// Runs runnable runs (pending, due timers, sent signals, expired leases) one after another
    /// until none is left; returns how many it ran.
    public func runUntilIdle() async throws -> Int {
        var count = 0
        while let (lease, record) = try await store.claimNextRunnable(owner: owner, leaseDuration: configuration.leaseDuration, workflows: workflowNames) {
            _ = try await execute(record, lease: lease)
            count += 1
        }
        return count
    }

    /// Works as a worker until `isStopping` says so or the task is cancelled: keeps up to
    /// `concurrency` runs going, claiming the next runnable run (new, resumed, woken by a timer or
    /// a signal, or abandoned by a worker whose lease expired) as each one ends, and polling every
    /// `pollInterval` when there is none. A store that goes away is retried with backoff; nothing
    /// is lost, because every run's progress is in its journal.
    ///
    /// Graceful shutdown: once `isStopping` returns `true` no new run is claimed and the runs in
    /// hand go on until they finish or wait; cancel the task to stop sooner — the runs in hand are
    /// then released, to be resumed by another worker from their last journaled step.
    public func work(concurrency: Int, pollInterval: Duration = .milliseconds(250), isStopping: @escaping @Sendable () -> Bool = { false }) async {
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<max(1, concurrency) {
                group.addTask {
                    var failures = 0
                    while !isStopping(), !Task.isCancelled {
                        do {
                            guard let (lease, record) = try await self.store.claimNextRunnable(
                                owner: self.owner, leaseDuration: self.configuration.leaseDuration, workflows: self.workflowNames)
                            else {
                                failures = 0
                                try await self.clock.sleep(for: pollInterval)
                                continue
                            }
                            failures = 0
                            _ = try await self.execute(record, lease: lease)
                        } catch is CancellationError where Task.isCancelled {
                            return
                        } catch {
                            // Anything else — a CancellationError a workflow threw of its own
                            // accord included — costs this slot a backoff, never the slot itself.
                            if Task.isCancelled { return }
                            failures += 1
                            self.logger.warning("worker slot \(slot): \(error)")
                            let backoff = min(5_000, 100 * (1 << min(failures, 6)))
                            try? await self.clock.sleep(for: .milliseconds(backoff))
                        }
                    }
                }
            }
        }
    }

    /// Runs a claimed run: replays its journal, runs the workflow with a heartbeat beside it, and
    /// records the outcome under the lease.
    public func execute(_ record: RunRecord, lease: Lease) async throws -> RunRecord {
        var logger = self.logger
        logger[metadataKey: "run"] = "\(record.id)"
        guard let workflow = workflows[record.workflow] else {
            // Leave the run for a process that knows its workflow.
            try await store.release(lease)
            throw WorkflowError(.unknownWorkflow, "no workflow named '\(record.workflow)' is registered here")
        }
        let journal = try await store.journal(runID: record.id)
        guard let tracer = activeTracer() else {
            return try await execute(record, workflow: workflow, lease: lease, journal: journal, logger: logger)
        }
        // The run's span continues the trace of its first execution, whose context is kept with
        // the run (a step of the scope `keel.trace`).
        let kept = journal.first { $0.scope == Self.traceScope && $0.status == .completed }
            .flatMap { try? $0.result?.decode(as: TraceCarrier.self) }
        return try await traced(tracer, "workflow \(record.workflow)", parent: kept?.context(tracer)) { span in
            span?.attributes[SpanName.runID] = record.id
            span?.attributes[SpanName.workflow] = record.workflow
            let replayedSteps = journal.count { $0.status == .completed && $0.scope != Self.traceScope }
            span?.attributes[SpanName.replayed] = replayedSteps > 0
            if replayedSteps > 0 { span?.attributes[SpanName.replayedSteps] = replayedSteps }
            return try await execute(record, workflow: workflow, lease: lease, journal: journal, logger: logger, keepingTrace: kept == nil)
        }
    }

    /// The scope of the step that keeps a run's trace context.
    static let traceScope = "keel.trace"

    private func execute(
        _ record: RunRecord, workflow: AnyWorkflow, lease: Lease, journal: [JournalEntry], logger: Logger, keepingTrace: Bool = false
    ) async throws -> RunRecord {
        let context = RunContext(
            runID: record.id, lease: lease, journal: journal, store: store, clock: clock, inlineSleepLimit: configuration.inlineSleepLimit,
            deadline: record.deadline, logger: logger)
        logger.debug("executing", metadata: ["workflow": "\(record.workflow)", "journaled_steps": "\(journal.count)"])
        if keepingTrace, let tracer = context.tracer {
            // The run's span, not the span of the step that keeps it.
            let carrier = TraceCarrier.current(tracer)
            do {
                _ = try await context.scope(Self.traceScope).step("trace-context") { carrier }
            } catch {
                logger.warning("the run's trace context could not be kept: \(error)")
            }
        }
        let outcome = await runWithHeartbeat(workflow, input: record.input, context: context)
        let current = context.lease
        switch outcome {
        case .success(let output):
            if let suspension = context.pendingSuspension {
                try await store.suspend(current, wakeAt: suspension.wakeAt, waitingFor: suspension.waitingFor)
            } else {
                try await store.finish(current, status: .completed, output: output, failure: nil)
                context.metrics?.runFinished(status: "completed")
            }
        case .failure(let error):
            if let suspension = error as? RunSuspension ?? context.pendingSuspension {
                try await store.suspend(current, wakeAt: suspension.wakeAt, waitingFor: suspension.waitingFor)
            } else if let storeError = error as? StoreError, storeError.code == .leaseLost {
                logger.warning("stopped: \(storeError.message)")
            } else if (error is CancellationError && Task.isCancelled) || (error as? StoreError).map({ $0.code == .unavailable || $0.code == .locked }) == true {
                // Shutting down, or the store went away: not the run's fault. Give the run back
                // (if the store answers) so that a worker resumes it from its last step.
                logger.warning("released: \(error)")
                let store = self.store
                try? await Task { try await store.release(current) }.value
                throw error
            } else {
                var failure = Self.failure(for: error)
                if failure.sequence == nil, let failed = context.failedStep {
                    failure.sequence = failed.sequence
                    failure.scope = failed.scope.isEmpty ? nil : failed.scope
                }
                logger.error("run failed", metadata: ["code": "\(failure.code)"])
                do {
                    try await store.finish(current, status: .failed, output: nil, failure: failure)
                    context.metrics?.runFinished(status: "failed")
                    context.metrics?.deadLetter()
                    await (runAlerts?(record) ?? alerts).send(Alert(
                        kind: .deadLetter, message: "run \(record.id) (\(record.workflow)) failed at \(failure) and is in the dead-letter queue",
                        runID: record.id, failure: failure))
                } catch let storeError as StoreError where storeError.code == .leaseLost {
                    logger.warning("stopped: \(storeError.message)")
                }
            }
        }
        return try await store.run(id: record.id) ?? record
    }

    private func runWithHeartbeat(_ workflow: AnyWorkflow, input: JSONValue, context: RunContext) async -> Result<JSONValue, any Error> {
        // The heartbeat watches the workflow: when the lease is lost the workflow is cancelled and
        // abandoned, not waited for — a workflow stuck in a call that ignores cancellation (a
        // database that went away mid-statement) must not hold this worker's slot, or keep the
        // worker from exiting on SIGTERM. What it may still write is refused by the lease's fence.
        do {
            return .success(try await withWatcher({ await self.leaseLoss(context) }) { try await workflow.body(input, context) })
        } catch {
            return .failure(error)
        }
    }

    /// Waits, renewing the lease, until the lease is lost, and returns why.
    private func leaseLoss(_ context: RunContext) async -> any Error {
        if case .failure(let error) = await heartbeat(context) { return error }
        return CancellationError()
    }

    /// Renews the lease until the workflow ends, and ends it (`leaseLost`) when the lease is
    /// lost — or when it could not be renewed and is about to expire.
    ///
    /// The lease is counted on this process's clock from the moment before it was claimed or
    /// last renewed: durations agree between machines where clocks do not. When renewals keep
    /// failing (the store is away, the network cut), the workflow is stopped a fifth of the lease
    /// before it would expire, so that no step of this process runs on while another worker,
    /// having taken the run over, runs it too.
    private func heartbeat(_ context: RunContext) async -> Result<JSONValue, any Error>? {
        let origin = currentInstant(of: clock)
        func elapsed() -> Duration { elapsedSince(origin, on: clock) }
        let leaseDuration = configuration.leaseDuration
        let margin = leaseDuration / 5
        var heldUntil = leaseDuration  // since `origin`; the claim came just before
        while !Task.isCancelled {
            let stopAt = heldUntil - margin
            let untilStop = stopAt - elapsed()
            guard untilStop > .zero else {
                logger.error("stopping run \(context.runID): its lease could not be renewed and is about to expire")
                return .failure(StoreError(.leaseLost, "the lease of run '\(context.runID)' could not be renewed before it expired; this process stops running it"))
            }
            do {
                try await clock.sleep(for: min(configuration.heartbeatInterval, untilStop))
                let asked = elapsed()
                let timeLeft = stopAt - asked
                guard timeLeft > .zero else { continue }
                let (store, lease, runID) = (store, context.lease, context.runID)
                let renewed = try await withTimeLimit(timeLeft, onTimeout: {
                    StoreError(.unavailable, "renewing the lease of run '\(runID)' took too long")
                }) {
                    try await store.renew(lease, leaseDuration: leaseDuration)
                }
                context.updateLease(renewed)
                heldUntil = asked + leaseDuration
            } catch is CancellationError {
                return nil
            } catch let error as StoreError where error.code != .leaseLost && error.code != .notFound {
                // The store is away: try again at the next beat, until the lease runs out.
                logger.warning("could not renew the lease of run \(context.runID): \(error.message)")
            } catch {
                return .failure(error)
            }
        }
        return nil
    }

    /// How an error is recorded on a failed run.
    static func failure(for error: any Error) -> RunFailure {
        switch error {
        case let error as WorkflowError:
            return RunFailure(code: error.code.rawValue, message: error.message, sequence: error.sequence, scope: error.scope)
        case let error as ModelError:
            return RunFailure(code: error.code.rawValue, message: (error.statusCode.map { "HTTP \($0): " } ?? "") + error.message)
        case let error as StoreError:
            return RunFailure(code: "store_\(error.code.rawValue)", message: error.message)
        case let error as BudgetExceeded:
            return RunFailure(code: "budget_exceeded", message: error.description)
        case is CancellationError:
            return RunFailure(code: "cancelled", message: "the run was cancelled")
        default:
            return RunFailure(code: "workflow_error", message: String(describing: error))
        }
    }
}
