import Foundation
import KeelCore

/// Where runs, their journals and their signals live: the one mechanism every durable run in Keel
/// stands on. KeelSQLite (one machine) and KeelPostgres (many workers) implement it, and both pass
/// the same conformance suite (`RunStoreConformance` in KeelTesting).
///
/// Guarantees every implementation gives:
/// - ``createRun(_:)`` is durable before it returns, and idempotent by run id.
/// - A completed journal entry is written at most once per `(run, sequence)`.
/// - Every write that advances a run carries a ``Lease``; a write under a lease that was taken over
///   (an older epoch) or of a cancelled run is refused with ``StoreError/Code/leaseLost``.
/// - A signal is delivered to exactly one wait.
public protocol RunStore: Sendable {
    /// Accepts a run durably, or returns the existing run with that id (`created` is then false).
    /// Throws ``StoreError/Code/conflict`` when the id belongs to another workflow.
    func createRun(_ run: NewRun) async throws -> (record: RunRecord, created: Bool)

    /// The run with this id, if any.
    func run(id: String) async throws -> RunRecord?

    /// Runs matching the query, newest first.
    func listRuns(_ query: RunQuery) async throws -> [RunRecord]

    /// The run's journal in sequence order.
    func journal(runID: String) async throws -> [JournalEntry]

    /// Claims a run that is pending, waiting, failed-over (its owner's lease expired or its process
    /// is gone) — marking it running under a new epoch.
    ///
    /// A run taken over from a stopped worker too many times in a row without a finished step
    /// (the store's `maxRecoveries`) is quarantined instead: failed with code `quarantined` into the
    /// dead-letter queue, and reported as finished. Finishing a step, waiting and reopening start
    /// the count again.
    func claim(runID: String, owner: RunOwner, leaseDuration: Duration) async throws -> ClaimResult

    /// Claims the oldest runnable run: pending, waiting with its timer due or its signal sent, or
    /// running under an expired lease. `workflows` limits the claim to runs this process can run.
    /// Runs quarantined as they are taken (see ``claim(runID:owner:leaseDuration:)``) are skipped.
    func claimNextRunnable(owner: RunOwner, leaseDuration: Duration, workflows: Set<String>?) async throws -> (Lease, RunRecord)?

    /// Extends a lease. Throws ``StoreError/Code/leaseLost`` when it was taken over.
    func renew(_ lease: Lease, leaseDuration: Duration) async throws -> Lease

    /// Appends a journal entry (`started`) or completes one (`completed`), under the lease, and
    /// commits the step's `effects` — the spend it settles, the audit records it adds — in the
    /// same transaction.
    func append(_ entry: JournalEntry, lease: Lease, effects: StepEffects) async throws

    /// Completes a journal entry with `result` as its result, like ``append(_:lease:effects:)``,
    /// and returns the JSON the journal now holds — or `nil` when the store keeps the value itself
    /// (``InMemoryRunStore``, which encodes it only when the journal is read). The default encodes
    /// the value and appends the entry.
    func append<T: Encodable & Sendable>(_ entry: JournalEntry, result: T, lease: Lease, effects: StepEffects) async throws -> JSONValue?

    /// Puts the run to wait for a timer, any of some signals, or both, and gives up the lease. A
    /// signal already sent for one of `waitingFor` leaves the run runnable at once.
    func suspend(_ lease: Lease, wakeAt: Date?, waitingFor: [String]) async throws

    /// Ends the run as completed (with an output) or failed (with a failure, which puts it in the
    /// dead-letter queue), and gives up the lease.
    func finish(_ lease: Lease, status: RunStatus, output: JSONValue?, failure: RunFailure?) async throws

    /// Gives up the lease and leaves the run pending for another process (graceful shutdown).
    func release(_ lease: Lease) async throws

    /// Sends a signal; a run waiting for it becomes runnable. With an `idempotencyKey`, a send
    /// repeated with the same key (a retry after a lost reply) delivers nothing more and returns
    /// `false`; the first returns `true`.
    @discardableResult
    func signal(runID: String, name: String, payload: JSONValue, idempotencyKey: String?) async throws -> Bool

    /// Takes the oldest unconsumed signal named `name` and journals it as the completed `entry`
    /// (with the signal's payload as its result), in one transaction; `nil` when none was sent.
    func takeSignal(runID: String, name: String, journaling entry: JournalEntry, lease: Lease) async throws -> JSONValue?

    /// Cancels a run that has not finished; its owner's next write is refused.
    func cancel(runID: String) async throws -> RunRecord

    /// Makes a failed or cancelled run pending again, to resume it from where it stopped.
    func reopen(runID: String) async throws -> RunRecord

    /// Failed runs waiting for a person, newest first (with `includeResolved`, also those already
    /// retried). ``finish(_:status:output:failure:)`` with `failed` adds the run; ``reopen(runID:)``
    /// resolves it.
    func deadLetters(includeResolved: Bool, limit: Int) async throws -> [DeadLetter]

    /// Adds up the metered steps of the journal — tokens and the cost recorded with each step —
    /// grouped by run, model, tenant or day.
    func costs(_ query: CostQuery) async throws -> [CostRow]

    /// Counts the runs and approvals by status and the open dead letters, of one tenant (runs
    /// started for it, and their approvals and dead letters) or, with `nil`, of all.
    func summary(tenant: String?) async throws -> StoreSummary

    // MARK: Governance

    /// Records an approval request (idempotent by id) under the run's lease and returns it as the
    /// store holds it — decided already, perhaps.
    func requestApproval(_ request: ApprovalRequest, lease: Lease) async throws -> ApprovalRecord

    /// The approval with this id, if any.
    func approval(id: String) async throws -> ApprovalRecord?

    /// Approvals, oldest first, of one run or all, in one status or any.
    func approvals(runID: String?, status: ApprovalStatus?) async throws -> [ApprovalRecord]

    /// Decides a pending (or escalated) approval — once: a second decision is refused with
    /// ``StoreError/Code/invalidState`` — records who decided and when, appends the decision to the
    /// audit log, and makes the run runnable.
    func decideApproval(id: String, decision: ApprovalDecision, by: String) async throws -> ApprovalRecord

    /// Marks an approval that waited too long as expired (its run denies the call) or escalated
    /// (it keeps waiting, without a time limit), under the run's lease.
    /// Returns the approval as it stands afterwards: a decision that landed first wins, and is
    /// what the run must act on.
    @discardableResult
    func closeApproval(id: String, as status: ApprovalStatus, lease: Lease) async throws -> ApprovalRecord

    /// Appends records to the audit log outside any step (decisions made outside a run).
    func appendAudit(_ records: [AuditRecord]) async throws

    /// Audit entries in sequence order, of one run or tool or all.
    func auditLog(runID: String?, tool: String?, limit: Int?) async throws -> [AuditEntry]

    /// Checks the audit log's hash chain from its first entry to the last.
    func verifyAuditLog() async throws -> AuditVerification

    /// Starts a new run from this one's journal: its input and the completed entries before
    /// `sequence` are copied, so the new run replays them and runs on from there. Approvals that
    /// would be copied without the calls they approved are left out (the fork starts before them,
    /// see ``JournalEntry/forkPosition(_:entriesBefore:)``): the new run asks for them again.
    func fork(runID: String, atSequence sequence: Int, newRunID: String) async throws -> RunRecord

    /// The store's clock (see the default implementation).
    func currentTime() async throws -> Date
}

extension RunStore {
    public func append<T: Encodable & Sendable>(_ entry: JournalEntry, result: T, lease: Lease, effects: StepEffects) async throws -> JSONValue? {
        var completed = entry
        let json = try JSONValue(encoding: result)
        completed.result = json
        try await append(completed, lease: lease, effects: effects)
        return json
    }

    /// The store's clock: timers and expiries that several processes compare are computed and
    /// compared on it, so that a worker whose clock is off neither wakes runs early nor takes
    /// leases that have not expired. Default: this process's clock (one machine, one clock).
    public func currentTime() async throws -> Date { Date() }

    /// Sends a signal without an idempotency key: each send delivers one.
    public func signal(runID: String, name: String, payload: JSONValue) async throws {
        try await signal(runID: runID, name: name, payload: payload, idempotencyKey: nil)
    }

    /// Appends or completes a journal entry, settling nothing and auditing nothing.
    public func append(_ entry: JournalEntry, lease: Lease) async throws {
        try await append(entry, lease: lease, effects: .none)
    }
}
