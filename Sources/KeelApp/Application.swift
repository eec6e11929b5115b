import Foundation
import KeelCore
import KeelRuntime

/// The application's runtime: every workflow it knows, with the store as the spend ledger and
/// its rate limiters, its alerts on standard error and each run's alerts where its settings ask
/// (when allowed) — and the ways commands start runs on it.
public enum Application {
    /// A runtime for `opened`, acting on runs' inputs only as far as `authority` allows.
    public static func runtime(
        _ opened: OpenedStore, authority: RunAuthority, report: ReportWorkflow = ReportWorkflow(), agent: AgentWorkflow = AgentWorkflow(),
        researchReview: ResearchReviewWorkflow = ResearchReviewWorkflow(), crew: CrewWorkflow = CrewWorkflow(),
        configuration: DurableRuntime.Configuration = DurableRuntime.Configuration()
    ) -> DurableRuntime {
        var chat = ChatWorkflow()
        chat.sessions = opened.store as? any SessionStore
        func bind(_ workflow: some ProcessBoundWorkflow) -> AnyWorkflow { AnyWorkflow(workflow.bound(to: opened, authority: authority)) }
        return DurableRuntime(
            store: opened.store, workflows: [bind(report), bind(agent), bind(researchReview), bind(crew), bind(chat)], configuration: configuration,
            alerts: StandardErrorAlertHook(), runAlerts: { authority.alertHook(for: $0) })
    }

    /// A run that ``startOrResume(_:in:)`` started or found.
    public struct Start: Sendable {
        /// The run as it is now: created, found, or reopened.
        public let record: RunRecord
        /// The status the run had when it was found, `nil` for a run just created.
        public let previousStatus: RunStatus?
        /// Whether the run existed before (its stored input is the one that counts).
        public var isResumed: Bool { previousStatus != nil }
    }

    /// Starts `run`, or resumes the run of that id: a failed or cancelled run is reopened so that
    /// it continues from its last journaled step, a run of another workflow is refused. A resumed
    /// run keeps the input it started with.
    ///
    /// - Throws: ``InputError`` for a run of another workflow, ``StoreError`` from the store.
    public static func startOrResume(_ run: NewRun, in store: any RunStore) async throws -> Start {
        guard let existing = try await store.run(id: run.id) else {
            return Start(record: try await store.createRun(run).record, previousStatus: nil)
        }
        guard existing.workflow == run.workflow else {
            throw InputError("run '\(run.id)' is a '\(existing.workflow)' run, not a '\(run.workflow)' run")
        }
        return Start(record: try await reopenIfStopped(existing, in: store), previousStatus: existing.status)
    }

    /// The run `runID` made ready to go on: a failed or cancelled run is reopened (to continue from
    /// its last journaled step), any other is returned as it is; `nil` when there is no such run.
    public static func resume(_ runID: String, in store: any RunStore) async throws -> RunRecord? {
        guard let existing = try await store.run(id: runID) else { return nil }
        return try await reopenIfStopped(existing, in: store)
    }

    private static func reopenIfStopped(_ record: RunRecord, in store: any RunStore) async throws -> RunRecord {
        record.status == .failed || record.status == .cancelled ? try await store.reopen(runID: record.id) : record
    }
}

/// A workflow whose spending ledger, authority and rate limiters are the process's: the store's,
/// and what the process was started to allow.
public protocol ProcessBoundWorkflow: Workflow {
    var ledger: any SpendLedger { get set }
    var authority: RunAuthority { get set }
    var rateLimiters: RateLimiters { get set }
}

extension ProcessBoundWorkflow {
    /// The workflow with the ledger and rate limiters of `opened` and `authority`.
    public func bound(to opened: OpenedStore, authority: RunAuthority) -> Self {
        var workflow = self
        workflow.ledger = opened.store
        workflow.authority = authority
        workflow.rateLimiters = opened.rateLimiters
        return workflow
    }
}

extension ReportWorkflow: ProcessBoundWorkflow {}
extension AgentWorkflow: ProcessBoundWorkflow {}
extension ResearchReviewWorkflow: ProcessBoundWorkflow {}
extension CrewWorkflow: ProcessBoundWorkflow {}
extension ChatWorkflow: ProcessBoundWorkflow {}
