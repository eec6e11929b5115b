import Foundation
import KeelCore
import KeelRuntime

/// A ``RunStore`` that stands for a process that dies: it forwards to a real store until a given
/// number of writes have gone through, and from then on every call throws ``SimulatedCrash``. The
/// write at which it dies either never reaches the store (killed between two writes) or, with
/// `crashAfterWrite`, commits and the process dies before it hears back — both leave in the real
/// store exactly what such a process leaves behind.
///
/// Give the runtime that uses it an owner no live process has (``deadOwner(_:)``), so that the
/// next runtime may take the run over at once, as it would after a real crash.
public final class CrashingRunStore: RunStore {
    /// The error every call throws once the store has "died".
    public struct SimulatedCrash: Error, CustomStringConvertible {
        public var description: String { "the process died (simulated)" }
    }

    public let base: any RunStore
    private let writesLeft: Locked<Int?>
    private let crashAfterWrite: Bool

    /// - Parameters:
    ///   - writesBeforeCrash: how many writes go through before the crash; `nil` never crashes.
    ///     Lease renewals do not count (they depend on timing), but fail after the crash.
    ///   - crashAfterWrite: whether the write at which the process dies reaches the store first
    ///     (it commits, and the process dies before it learns so) rather than not at all.
    public init(_ base: any RunStore, writesBeforeCrash: Int?, crashAfterWrite: Bool = false) {
        self.base = base
        writesLeft = Locked(writesBeforeCrash)
        self.crashAfterWrite = crashAfterWrite
    }

    /// Whether the store has died.
    public var hasCrashed: Bool { writesLeft.withLock { $0.map { $0 < 0 } ?? false } }

    /// An owner id on this host whose process does not exist, so its leases count as abandoned.
    public static func deadOwner(_ name: String) -> RunOwner {
        RunOwner(id: "\(RunOwner.localMachine)/2147483646/0/\(name)")
    }

    /// One write: through to the store while the process lives; at the crash, not at all or (with
    /// `crashAfterWrite`) through and then the crash; after it, nothing.
    private func written<T>(_ body: () async throws -> T) async throws -> T {
        let remaining = writesLeft.withLock { left -> Int? in
            guard let remaining = left else { return nil }
            left = remaining - 1
            return remaining
        }
        guard let remaining, remaining <= 0 else { return try await body() }
        if remaining == 0, crashAfterWrite { _ = try? await body() }
        throw SimulatedCrash()
    }

    private func read() throws {
        if hasCrashed { throw SimulatedCrash() }
    }

    public func createRun(_ run: NewRun) async throws -> (record: RunRecord, created: Bool) {
        return try await written { try await base.createRun(run) }
    }
    public func run(id: String) async throws -> RunRecord? {
        try read()
        return try await base.run(id: id)
    }
    public func listRuns(_ query: RunQuery) async throws -> [RunRecord] {
        try read()
        return try await base.listRuns(query)
    }
    public func journal(runID: String) async throws -> [JournalEntry] {
        try read()
        return try await base.journal(runID: runID)
    }
    public func claim(runID: String, owner: RunOwner, leaseDuration: Duration) async throws -> ClaimResult {
        return try await written { try await base.claim(runID: runID, owner: owner, leaseDuration: leaseDuration) }
    }
    public func claimNextRunnable(owner: RunOwner, leaseDuration: Duration, workflows: Set<String>?) async throws -> (Lease, RunRecord)? {
        return try await written { try await base.claimNextRunnable(owner: owner, leaseDuration: leaseDuration, workflows: workflows) }
    }
    public func renew(_ lease: Lease, leaseDuration: Duration) async throws -> Lease {
        try read()
        return try await base.renew(lease, leaseDuration: leaseDuration)
    }
    public func append(_ entry: JournalEntry, lease: Lease, effects: StepEffects) async throws {
        try await written { try await base.append(entry, lease: lease, effects: effects) }
    }
    public func suspend(_ lease: Lease, wakeAt: Date?, waitingFor: [String]) async throws {
        try await written { try await base.suspend(lease, wakeAt: wakeAt, waitingFor: waitingFor) }
    }
    public func finish(_ lease: Lease, status: RunStatus, output: JSONValue?, failure: RunFailure?) async throws {
        try await written { try await base.finish(lease, status: status, output: output, failure: failure) }
    }
    public func release(_ lease: Lease) async throws {
        try await written { try await base.release(lease) }
    }
    public func signal(runID: String, name: String, payload: JSONValue, idempotencyKey: String?) async throws -> Bool {
        return try await written { try await base.signal(runID: runID, name: name, payload: payload, idempotencyKey: idempotencyKey) }
    }
    public func takeSignal(runID: String, name: String, journaling entry: JournalEntry, lease: Lease) async throws -> JSONValue? {
        return try await written { try await base.takeSignal(runID: runID, name: name, journaling: entry, lease: lease) }
    }
    public func cancel(runID: String) async throws -> RunRecord {
        return try await written { try await base.cancel(runID: runID) }
    }
    public func reopen(runID: String) async throws -> RunRecord {
        return try await written { try await base.reopen(runID: runID) }
    }
    public func deadLetters(includeResolved: Bool, limit: Int) async throws -> [DeadLetter] {
        try read()
        return try await base.deadLetters(includeResolved: includeResolved, limit: limit)
    }
    public func costs(_ query: CostQuery) async throws -> [CostRow] {
        try read()
        return try await base.costs(query)
    }
    public func summary(tenant: String?) async throws -> StoreSummary {
        try read()
        return try await base.summary(tenant: tenant)
    }
    public func requestApproval(_ request: ApprovalRequest, lease: Lease) async throws -> ApprovalRecord {
        return try await written { try await base.requestApproval(request, lease: lease) }
    }
    public func approval(id: String) async throws -> ApprovalRecord? {
        try read()
        return try await base.approval(id: id)
    }
    public func approvals(runID: String?, status: ApprovalStatus?) async throws -> [ApprovalRecord] {
        try read()
        return try await base.approvals(runID: runID, status: status)
    }
    public func decideApproval(id: String, decision: ApprovalDecision, by: String) async throws -> ApprovalRecord {
        return try await written { try await base.decideApproval(id: id, decision: decision, by: by) }
    }
    @discardableResult
    public func closeApproval(id: String, as status: ApprovalStatus, lease: Lease) async throws -> ApprovalRecord {
        return try await written { try await base.closeApproval(id: id, as: status, lease: lease) }
    }
    public func appendAudit(_ records: [AuditRecord]) async throws {
        try await written { try await base.appendAudit(records) }
    }
    public func auditLog(runID: String?, tool: String?, limit: Int?) async throws -> [AuditEntry] {
        try read()
        return try await base.auditLog(runID: runID, tool: tool, limit: limit)
    }
    public func verifyAuditLog() async throws -> AuditVerification {
        try read()
        return try await base.verifyAuditLog()
    }
    public func fork(runID: String, atSequence sequence: Int, newRunID: String) async throws -> RunRecord {
        return try await written { try await base.fork(runID: runID, atSequence: sequence, newRunID: newRunID) }
    }

    public func currentTime() async throws -> Date {
        try await base.currentTime()
    }
}
