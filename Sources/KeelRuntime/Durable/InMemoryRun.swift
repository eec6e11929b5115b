import Foundation
import KeelCore
import Logging

/// Runs work as a run kept in memory: the same ``RunContext``, journal and replay as a durable
/// run, on an ``InMemoryRunStore`` that ends with it.
///
/// A run in memory cannot wait for a person in another process, so when it stops to wait for
/// approvals the `approver` decides them in the store — as `keel approve` would — or, with no
/// approver, they are denied by policy; the run then resumes, replaying its journal. Sleeps happen
/// inline. A wait for a signal nobody can send here fails the run with a clear error.
struct InMemoryRun {
    var clock: any Clock<Duration>
    var logger: Logger
    var deadline: Date?
    var approver: (@Sendable (ApprovalRequest) async -> ApprovalDecision)?

    /// Nobody else can take a run in memory: the lease need not be renewed.
    private static let leaseDuration = Duration.seconds(100 * 365 * 24 * 3_600)
    private static let workflow = "in-memory"

    func run<T: Sendable>(_ body: (RunContext) async throws -> T) async throws -> T {
        let store = InMemoryRunStore()
        // 128 random bits from the system generator (Foundation's UUID opens /dev/urandom on
        // Linux each time, a system call per run that a run in memory need not pay).
        var generator = SystemRandomNumberGenerator()
        let runID = "memory-" + String(generator.next() as UInt64, radix: 16) + String(generator.next() as UInt64, radix: 16)
        _ = try await store.createRun(NewRun(id: runID, workflow: Self.workflow, input: .null, deadline: deadline))
        let owner = RunOwner(id: "in-memory/\(runID)")
        while true {
            guard case .claimed(let lease, _) = try await store.claim(runID: runID, owner: owner, leaseDuration: Self.leaseDuration) else {
                throw WorkflowError(.finished, "run '\(runID)' in memory ended while it was running")
            }
            let context = RunContext(
                runID: runID, lease: lease, journal: try await store.journal(runID: runID), store: store, clock: clock,
                inlineSleepLimit: Self.leaseDuration, deadline: deadline, logger: logger)
            let suspension: RunSuspension
            do {
                let value = try await body(context)
                guard let pending = context.pendingSuspension else { return value }
                suspension = pending
            } catch let error as RunSuspension {
                suspension = context.pendingSuspension ?? error
            }
            try await store.suspend(context.lease, wakeAt: suspension.wakeAt, waitingFor: suspension.waitingFor)
            try await decideApprovals(in: store, runID: runID, waitingFor: suspension.waitingFor)
        }
    }

    /// Decides the approvals the run waits for; throws when it waits for anything else.
    private func decideApprovals(in store: InMemoryRunStore, runID: String, waitingFor: [String]) async throws {
        let open = try await store.approvals(runID: runID, status: nil).filter { $0.status == .pending || $0.status == .escalated }
        let names = Set(open.map { ApprovalRecord.signalName(for: $0.request.id) })
        if let other = waitingFor.first(where: { !names.contains($0) }) {
            throw WorkflowError(.cannotWait, "a run kept in memory cannot wait for the signal '\(other)': nobody can send it; run it durably on a store")
        }
        for record in open {
            if let approver {
                _ = try await store.decideApproval(id: record.request.id, decision: await approver(record.request), by: "approver")
            } else {
                let reason = "this call needs approval (\(record.request.reason)), and nobody can approve in this run"
                _ = try await store.decideApproval(id: record.request.id, decision: .deny(reason: reason), by: "policy")
            }
        }
    }
}

extension RunContext {
    /// Runs `body` as a run kept in memory: the same journal, scopes and replay as a durable run,
    /// on a store that ends with it (what ``Agent/run(_:observer:)`` does). Approvals go to
    /// `approver`, or are denied; a wait for any other signal fails with a clear error.
    public static func inMemory<T: Sendable>(
        clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "keel.run"),
        approver: (@Sendable (ApprovalRequest) async -> ApprovalDecision)? = nil, _ body: (RunContext) async throws -> T
    ) async throws -> T {
        try await InMemoryRun(clock: clock, logger: logger, deadline: nil, approver: approver).run(body)
    }

    /// The run's whole journal as the store holds it now: every scope's completed and started
    /// steps, this execution's included (for reports such as ``UsageByAgent``).
    public func storedJournal() async throws -> [JournalEntry] {
        try await store.journal(runID: runID)
    }
}
