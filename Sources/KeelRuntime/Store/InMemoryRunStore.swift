import Foundation
import KeelCore
import Synchronization

/// A ``RunStore`` held in this process's memory: what backs a run that need not survive the
/// process — ``Agent/run(_:observer:)``, tests, previews — so that it is the same code as a
/// durable run, with the same journal, fencing, signals, approvals, audit chain and spend ledger.
///
/// It keeps the rules the database stores keep (it passes `RunStoreConformance`), under one lock:
/// each operation is one transaction. Nothing survives the process; an owner's liveness is judged
/// as the file stores judge it, so a run whose process is gone cannot be in this store at all.
public final class InMemoryRunStore: RunStore, SpendLedger {
    struct Signal {
        var id: Int
        var name: String
        var payload: JSONValue
        var idempotencyKey: String?
        var consumed: Bool
    }

    /// Where an entry is in its run's journal.
    struct Address: Hashable {
        var scope: String
        var sequence: Int
    }

    struct StoredRun {
        var record: RunRecord
        var recoveries = 0
        var journal: [Address: JournalEntry] = [:]
        /// Results kept as values, encoded when the journal is read (in the order they came: a
        /// position is completed once).
        var values: [(address: Address, value: any Encodable & Sendable)] = []
        /// The number of each entry's last write, and of the last write.
        var commits: [Address: Int] = [:]
        var lastCommit = 0
        var signals: [Signal] = []
    }

    struct State {
        var runs: [String: StoredRun] = [:]
        var deadLetters: [String: DeadLetter] = [:]
        var approvals: [String: ApprovalRecord] = [:]
        var audit: [AuditEntry] = []
        var book = SpendBook()
        var nextSignal = 0
        var keys: [String: APIKeyRecord] = [:]
    }

    let state = Mutex(State())
    let maxRecoveries: Int
    let auditKey: AuditKey?

    /// An empty store. `maxRecoveries` and `auditKey` mean what they mean for the database stores.
    public init(maxRecoveries: Int = 50, auditKey: AuditKey? = nil) {
        self.maxRecoveries = max(1, maxRecoveries)
        self.auditKey = auditKey
    }

    // MARK: Runs

    public func createRun(_ run: NewRun) async throws -> (record: RunRecord, created: Bool) {
        try state.withLock { state in
            if let existing = state.runs[run.id]?.record {
                guard existing.workflow == run.workflow else {
                    throw StoreError(.conflict, "run id '\(run.id)' already belongs to a '\(existing.workflow)' run")
                }
                return (existing, false)
            }
            let now = Date()
            let record = RunRecord(
                id: run.id, workflow: run.workflow, input: run.input, status: .pending, tenant: run.tenant, deadline: run.deadline, createdAt: now,
                updatedAt: now)
            var stored = StoredRun(record: record)
            // A run in memory is an agent's: a few dozen steps, without growing the tables.
            stored.journal.reserveCapacity(32)
            stored.values.reserveCapacity(32)
            state.runs[run.id] = stored
            return (record, true)
        }
    }

    public func run(id: String) async throws -> RunRecord? {
        state.withLock { $0.runs[id]?.record }
    }

    public func listRuns(_ query: RunQuery) async throws -> [RunRecord] {
        state.withLock { state in
            let matching = state.runs.values.map(\.record).filter { run in
                (query.statuses.map { $0.isEmpty || $0.contains(run.status) } ?? true)
                    && (query.workflow.map { $0 == run.workflow } ?? true) && (query.tenant.map { $0 == run.tenant } ?? true)
                    && (query.after.map { (run.createdAt.timeIntervalSince1970, run.id) < ($0.createdAt.timeIntervalSince1970, $0.id) } ?? true)
            }
            let newestFirst = matching.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            return Array(newestFirst.prefix(max(0, query.limit)))
        }
    }

    public func journal(runID: String) async throws -> [JournalEntry] {
        try state.withLock { state in
            guard var stored = state.runs[runID] else { return [] }
            try Self.encodeValues(&stored)
            state.runs[runID] = stored
            return stored.journal.values.sorted { ($0.scope, $0.sequence) < ($1.scope, $1.sequence) }
        }
    }

    /// Encodes the results kept as values into their entries.
    static func encodeValues(_ stored: inout StoredRun) throws {
        for (address, value) in stored.values {
            do {
                stored.journal[address]?.result = try JSONValue(encoding: value)
            } catch {
                throw StoreError(.corrupt, "the result of step \(address.scope.isEmpty ? "" : "\(address.scope)/")\(address.sequence) of run '\(stored.record.id)' does not encode as JSON: \(error)")
            }
        }
        stored.values.removeAll(keepingCapacity: true)
    }

    // MARK: Leases

    public func claim(runID: String, owner: RunOwner, leaseDuration: Duration) async throws -> ClaimResult {
        state.withLock { state in
            guard let run = state.runs[runID]?.record else { return .notFound }
            let now = Date()
            if let blocker = StoreRules.claimBlocker(run, claimant: owner, now: now) { return blocker }
            guard let (lease, record) = take(&state, runID, owner: owner, leaseDuration: leaseDuration, now: now) else {
                return .finished(state.runs[runID]?.record ?? run)
            }
            return .claimed(lease, record)
        }
    }

    public func claimNextRunnable(owner: RunOwner, leaseDuration: Duration, workflows: Set<String>?) async throws -> (Lease, RunRecord)? {
        state.withLock { state in
            let now = Date()
            func runnable(_ stored: StoredRun) -> Bool {
                let run = stored.record
                guard workflows.map({ $0.contains(run.workflow) }) ?? true else { return false }
                switch run.status {
                case .pending: return true
                case .waiting:
                    if let wake = run.wakeAt, wake <= now { return true }
                    return stored.signals.contains { !$0.consumed && !ApprovalRecord.isReservedSignalName($0.name) && run.waitingFor.contains($0.name) }
                case .running: return run.leaseExpiresAt.map { $0 < now } ?? true
                default: return false
                }
            }
            let candidates = state.runs.values.filter(runnable).map(\.record).sorted { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) }
            for run in candidates {
                if let taken = take(&state, run.id, owner: owner, leaseDuration: leaseDuration, now: now) { return taken }
            }
            // Runs whose owner died on this host can be taken before their lease expires.
            let orphans = state.runs.values.map(\.record).filter { run in
                run.status == .running && (workflows.map { $0.contains(run.workflow) } ?? true) && run.owner.map(RunOwner.isDeadLocally) == true
            }
            for run in orphans.sorted(by: { $0.updatedAt < $1.updatedAt }) {
                if let taken = take(&state, run.id, owner: owner, leaseDuration: leaseDuration, now: now) { return taken }
            }
            return nil
        }
    }

    public func renew(_ lease: Lease, leaseDuration: Duration) async throws -> Lease {
        try state.withLock { state in
            try Self.checkLease(state, lease)
            var renewed = lease
            renewed.expiresAt = Date().addingTimeInterval(leaseDuration.timeInterval)
            state.runs[lease.runID]?.record.leaseExpiresAt = renewed.expiresAt
            return renewed
        }
    }

    /// Marks the run running under a new epoch — or quarantines it (see ``RunStore/claim(runID:owner:leaseDuration:)``)
    /// and returns `nil`.
    private func take(_ state: inout State, _ runID: String, owner: RunOwner, leaseDuration: Duration, now: Date) -> (Lease, RunRecord)? {
        guard var stored = state.runs[runID] else { return nil }
        stored.recoveries = StoreRules.recoveries(after: stored.record.status, had: stored.recoveries)
        if let failure = StoreRules.quarantine(recoveries: stored.recoveries, maxRecoveries: maxRecoveries, lastOwner: stored.record.owner) {
            stored.record.finish(.failed, output: nil, failure: failure, at: now)
            state.runs[runID] = stored
            Self.deadLetter(&state, runID: runID, failure)
            return nil
        }
        let expires = now.addingTimeInterval(leaseDuration.timeInterval)
        stored.record.status = .running
        stored.record.owner = owner.id
        stored.record.leaseExpiresAt = expires
        stored.record.epoch += 1
        stored.record.updatedAt = now
        state.runs[runID] = stored
        return (Lease(runID: runID, owner: owner.id, epoch: stored.record.epoch, expiresAt: expires), stored.record)
    }

    /// Throws ``StoreError/Code/leaseLost`` unless the run is still running under this lease.
    static func checkLease(_ state: State, _ lease: Lease) throws {
        guard let run = state.runs[lease.runID]?.record else { throw StoreError(.notFound, "no run '\(lease.runID)'") }
        try checkLease(run, lease)
    }

    static func checkLease(_ run: RunRecord, _ lease: Lease) throws {
        try StoreRules.checkLease(lease, epoch: run.epoch, owner: run.owner, status: run.status)
    }

    /// Puts a failed run in the dead-letter queue (again, if it was there before).
    static func deadLetter(_ state: inout State, runID: String, _ failure: RunFailure) {
        guard let stored = state.runs[runID] else { return }
        state.deadLetters[runID] = DeadLetter(
            runID: runID, workflow: stored.record.workflow, tenant: stored.record.tenant, failure: failure,
            journalLength: stored.journal.values.count { $0.status == .completed }, createdAt: Date())
    }

    // MARK: Journal

    public func append(_ entry: JournalEntry, lease: Lease, effects: StepEffects) async throws {
        try appendNow(entry, value: nil, lease: lease, effects: effects)
    }

    /// Keeps the value itself: a run in memory pays for JSON only when its journal is read.
    public func append<T: Encodable & Sendable>(
        _ entry: JournalEntry, result: T, lease: Lease, effects: StepEffects
    ) async throws -> JSONValue? {
        try appendNow(entry, value: result, lease: lease, effects: effects)
        return nil
    }

    /// ``append(_:result:lease:effects:)`` without suspending: what a ``RunContext`` on this store
    /// calls for each step (no existential dispatch, no async frame).
    func appendNow(_ entry: JournalEntry, value: (any Encodable & Sendable)?, lease: Lease, effects: StepEffects) throws {
        let key = auditKey
        try state.withLock { state in
            // One look-up of the run: this runs for every step of every run in memory.
            guard let index = state.runs.index(forKey: lease.runID) else { throw StoreError(.notFound, "no run '\(lease.runID)'") }
            // In place: the stored run (its record, its tables) is never copied.
            try Self.inPlace(&state.runs.values[index]) { stored in
                try StoreRules.checkLease(lease, epoch: stored.record.epoch, owner: stored.record.owner, status: stored.record.status)
                try Self.upsert(&stored, entry)
                if let value { stored.values.append((Address(scope: entry.scope, sequence: entry.sequence), value)) }
                // The entry's own time stamp: taken a moment ago, and one clock read less a step.
                stored.record.updatedAt = entry.completedAt ?? Date()
                // A finished step is progress: the run is not what stops its workers.
                if entry.status == .completed { stored.recoveries = 0 }
            }
            if let settling = effects.settling {
                state.book.settle(settling, actual: entry.metering?.spend ?? .zero)
            }
            Self.appendAudit(&state, effects.audit, key: key)
        }
    }

    /// Runs `body` on `value` where it is stored.
    static func inPlace<Value, Result>(_ value: inout Value, _ body: (inout Value) throws -> Result) rethrows -> Result {
        try body(&value)
    }

    /// Inserts a started entry, or completes one; a second completion at a position is refused.
    static func upsert(_ stored: inout StoredRun, _ entry: JournalEntry) throws {
        let address = Address(scope: entry.scope, sequence: entry.sequence)
        // One look-up: written first, put back when it was not allowed (the rare case).
        guard let existing = stored.journal.updateValue(entry, forKey: address) else {
            stored.lastCommit += 1
            stored.commits[address] = stored.lastCommit
            return
        }
        guard existing.name == entry.name else {
            stored.journal[address] = existing
            throw StoreError(.invalidState, "step \(entry.sequence) of run '\(entry.runID)' was started as '\(existing.name)', not '\(entry.name)'")
        }
        guard existing.status == .started else {
            stored.journal[address] = existing
            throw StoreError(.duplicateStep, "step \(entry.sequence) of run '\(entry.runID)' is already journaled")
        }
        stored.lastCommit += 1
        stored.commits[address] = stored.lastCommit
    }

    public func suspend(_ lease: Lease, wakeAt: Date?, waitingFor: [String]) async throws {
        try state.withLock { state in
            try Self.checkLease(state, lease)
            guard var stored = state.runs[lease.runID] else { return }
            // A signal that arrived (or an approval decided) before the wait leaves the run runnable.
            let signalled = waitingFor.contains { name in
                stored.signals.contains { !$0.consumed && $0.name == name && !ApprovalRecord.isReservedSignalName(name) }
                    || state.approvals.values.contains {
                        ApprovalRecord.signalName(for: $0.request.id) == name && ($0.status == .approved || $0.status == .denied)
                    }
            }
            stored.record.status = signalled ? .pending : .waiting
            stored.record.wakeAt = wakeAt
            stored.record.waitingFor = waitingFor
            stored.record.owner = nil
            stored.record.leaseExpiresAt = nil
            stored.record.updatedAt = Date()
            stored.recoveries = 0
            state.runs[lease.runID] = stored
        }
    }

    public func finish(_ lease: Lease, status: RunStatus, output: JSONValue?, failure: RunFailure?) async throws {
        guard status.isFinished else { throw StoreError(.invalidState, "finish needs completed, failed or cancelled, not \(status)") }
        try state.withLock { state in
            try Self.checkLease(state, lease)
            state.runs[lease.runID]?.record.finish(status, output: output, failure: failure, at: Date())
            if status == .failed, let failure { Self.deadLetter(&state, runID: lease.runID, failure) }
        }
    }

    public func release(_ lease: Lease) async throws {
        try state.withLock { state in
            try Self.checkLease(state, lease)
            state.runs[lease.runID]?.record.status = .pending
            state.runs[lease.runID]?.record.owner = nil
            state.runs[lease.runID]?.record.leaseExpiresAt = nil
            state.runs[lease.runID]?.record.updatedAt = Date()
        }
    }
}
