import Foundation

/// The rules every store applies, written once as pure functions: a store keeps its SQL (or its
/// dictionaries) and asks these what to do, so that memory, SQLite and PostgreSQL cannot drift
/// apart. `StoreRulesTests` checks them with no store; ``RunStoreConformance`` through each store.
public enum StoreRules {
    // MARK: Leases and claims

    /// Throws ``StoreError/Code/leaseLost`` unless a run with `epoch`, `owner` and `status` is
    /// still running under `lease`: every write of a run's state is fenced by this.
    public static func checkLease(_ lease: Lease, epoch: Int, owner: String?, status: RunStatus) throws {
        guard epoch == lease.epoch, owner == lease.owner, status == .running else {
            let reason = status == .cancelled ? "was cancelled" : "was taken over (epoch \(epoch), this writer holds \(lease.epoch))"
            throw StoreError(.leaseLost, "run '\(lease.runID)' \(reason); this process stops running it")
        }
    }

    /// What stands in the way of `claimant` taking `run` at `now` (on the clock that wrote its
    /// lease): the run is finished, or another owner holds it, alive, until its lease expires.
    /// `nil`: the run may be taken.
    public static func claimBlocker(_ run: RunRecord, claimant: RunOwner, now: Date) -> ClaimResult? {
        if run.status.isFinished { return .finished(run) }
        if run.status == .running, let current = run.owner, current != claimant.id, let expires = run.leaseExpiresAt, expires > now,
            !RunOwner.isDeadLocally(current)
        {
            return .busy(owner: current, until: expires)
        }
        return nil
    }

    /// The recoveries a run has after being taken from `status`: a run taken while it was still
    /// running was taken from a worker that stopped, one more time in a row without progress.
    public static func recoveries(after taking: RunStatus, had recoveries: Int) -> Int {
        taking == .running ? recoveries + 1 : recoveries
    }

    /// The failure that quarantines a run taken over `recoveries` times in a row without a
    /// finished step, once that is more than `maxRecoveries` (at least 1); `nil` while it is not.
    public static func quarantine(recoveries: Int, maxRecoveries: Int, lastOwner: String?) -> RunFailure? {
        recoveries > max(1, maxRecoveries) ? .quarantined(after: recoveries, lastOwner: lastOwner) : nil
    }

    // MARK: Reopening and forking

    /// Whether reopening `run` changes it: a failed or cancelled run becomes pending again (its
    /// dead letter resolved, its recoveries reset); a pending, running or waiting run is left as
    /// it is. A completed run cannot be reopened — it is forked.
    public static func reopens(_ run: RunRecord) throws -> Bool {
        switch run.status {
        case .failed, .cancelled:
            return true
        case .completed:
            throw StoreError(.invalidState, "run '\(run.id)' is completed; fork it to run it again from a step")
        case .pending, .running, .waiting:
            return false
        }
    }

    /// Throws unless a run with `length` entries at its root may be forked at `sequence`.
    public static func checkFork(runID: String, at sequence: Int, length: Int) throws {
        guard sequence >= 0, sequence <= length else {
            throw StoreError(.invalidState, "run '\(runID)' has \(length) journal entries; fork at 0…\(length)")
        }
    }

    // MARK: Approvals

    /// `record` decided with `decision` by `actor` at `now`; throws unless it may still be decided
    /// (``ApprovalRecord/checkDecidable(with:)``).
    public static func decide(_ record: ApprovalRecord, with decision: ApprovalDecision, by actor: String, at now: Date) throws -> ApprovalRecord {
        try record.checkDecidable(with: decision)
        var decided = record
        decided.status = decision.isApproval ? .approved : .denied
        decided.decision = decision
        decided.decidedBy = actor
        decided.decidedAt = now
        return decided
    }

    /// Whether deciding approval `approvalID` makes `run` runnable: it waits for that decision.
    public static func wakes(_ run: RunRecord, onDecisionOf approvalID: String) -> Bool {
        run.status == .waiting && run.waitingFor.contains(ApprovalRecord.signalName(for: approvalID))
    }

    /// Throws unless an approval may be closed `as` this status: only as expired or escalated.
    public static func checkClosing(as status: ApprovalStatus) throws {
        guard status == .expired || status == .escalated else {
            throw StoreError(.invalidState, "an approval can only be closed as expired or escalated")
        }
    }

    // MARK: The audit chain

    /// `records` as the next entries of the audit chain whose head is `head` (`nil`: the chain is
    /// empty), stamped `time` in whole microseconds, each hashed over the one before.
    public static func chain(_ records: [AuditRecord], after head: (sequence: Int, hash: String)?, at time: Date, key: AuditKey?) -> [AuditEntry] {
        var sequence = head?.sequence ?? 0
        var previous = head?.hash ?? AuditEntry.genesis
        let stamped = Date(timeIntervalSince1970: Double(microseconds(time)) / 1_000_000)
        return records.map { record in
            sequence += 1
            let hash = AuditEntry.hash(sequence: sequence, time: stamped, record: record, previousHash: previous, key: key)
            defer { previous = hash }
            return AuditEntry(sequence: sequence, time: stamped, record: record, previousHash: previous, hash: hash)
        }
    }

    /// `time` in whole microseconds since 1970, as the stores keep audit times.
    public static func microseconds(_ time: Date) -> Int64 {
        Int64((time.timeIntervalSince1970 * 1_000_000).rounded())
    }
}
