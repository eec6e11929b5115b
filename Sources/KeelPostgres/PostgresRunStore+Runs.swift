import Foundation
import KeelCore
import KeelRuntime
import Logging
import PostgresNIO

extension PostgresRunStore {
    // MARK: Runs

    public func createRun(_ run: NewRun) async throws -> (record: RunRecord, created: Bool) {
        let logger = self.logger
        return try await write { connection in
            let now = Date().timeIntervalSince1970
            let inserted = try await connection.rows(
                """
                INSERT INTO keel_runs (id, workflow, input, status, tenant, deadline_at, created_at, updated_at)
                VALUES (\(run.id), \(run.workflow), \(run.input.serialized()), 'pending', \(run.tenant), \(run.deadline?.timeIntervalSince1970), \(now), \(now))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: logger)
            let record = try await Self.requireRun(connection, id: run.id, logger: logger)
            if inserted.isEmpty, record.workflow != run.workflow {
                throw StoreError(.conflict, "run id '\(run.id)' already belongs to a '\(record.workflow)' run")
            }
            return (record, !inserted.isEmpty)
        }
    }

    public func run(id: String) async throws -> RunRecord? {
        let logger = self.logger
        return try await read { connection in try await Self.fetchRun(connection, id: id, logger: logger) }
    }

    public func listRuns(_ query: RunQuery) async throws -> [RunRecord] {
        let logger = self.logger
        let statuses = query.statuses.map { $0.map(\.rawValue).sorted() }
        let afterTime = query.after?.createdAt.timeIntervalSince1970
        return try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM keel_runs
                WHERE (\(statuses == nil) OR status = ANY(\(statuses ?? [])))
                  AND (\(query.workflow == nil) OR workflow = \(query.workflow ?? ""))
                  AND (\(query.tenant == nil) OR tenant = \(query.tenant ?? ""))
                  AND (\(afterTime == nil) OR created_at < \(afterTime ?? 0) OR (created_at = \(afterTime ?? 0) AND id < \(query.after?.id ?? "")))
                ORDER BY created_at DESC, id DESC LIMIT \(query.limit)
                """, logger: logger
            ).map(Self.decodeRun)
        }
    }

    /// The database server's clock (`clock_timestamp()`), which every worker shares.
    public func currentTime() async throws -> Date {
        let logger = self.logger
        return try await read { connection in try await Self.databaseTime(connection, logger: logger) }
    }

    public func journal(runID: String) async throws -> [JournalEntry] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("SELECT * FROM keel_journal WHERE run_id = \(runID) ORDER BY scope, sequence", logger: logger).map(Self.decodeEntry)
        }
    }

    // MARK: Leases

    public func claim(runID: String, owner: RunOwner, leaseDuration: Duration) async throws -> ClaimResult {
        let logger = self.logger
        let maxRecoveries = max(1, configuration.maxRecoveries)
        return try await write { connection in
            guard let row = try await connection.rows("SELECT * FROM keel_runs WHERE id = \(runID) FOR UPDATE", logger: logger).first else {
                return .notFound
            }
            let run = try Self.decodeRun(row)
            if run.status.isFinished { return .finished(run) }
            // The lease is judged on the database's clock, which wrote its expiry.
            let now = try await Self.databaseTime(connection, logger: logger)
            if let blocker = StoreRules.claimBlocker(run, claimant: owner, now: now) { return blocker }
            guard let taken = try await Self.take(connection, runID: run.id, owner: owner, leaseDuration: leaseDuration, maxRecoveries: maxRecoveries, logger: logger) else {
                return .finished(try await Self.requireRun(connection, id: runID, logger: logger))
            }
            return .claimed(taken.0, taken.1)
        }
    }

    public func claimNextRunnable(owner: RunOwner, leaseDuration: Duration, workflows: Set<String>?) async throws -> (Lease, RunRecord)? {
        let logger = self.logger
        let maxRecoveries = max(1, configuration.maxRecoveries)
        let names = workflows.map { Array($0).sorted() }
        return try await write { connection in
            // Timers and leases are compared on the database's clock, never the worker's: a
            // worker 40 s fast must not take every run whose lease has 30 s left.
            // Locked rows are being claimed by another worker: skip them rather than wait.
            // A run quarantined as it is taken is not claimed: look for the next one.
            while let row = try await connection.rows(
                """
                SELECT id FROM keel_runs r
                WHERE (r.status = 'pending'
                   OR (r.status = 'waiting' AND r.wake_at IS NOT NULL AND r.wake_at <= EXTRACT(EPOCH FROM clock_timestamp()))
                   OR (r.status = 'waiting' AND r.waiting_for IS NOT NULL AND EXISTS (
                        SELECT 1 FROM keel_signals s WHERE s.run_id = r.id AND s.consumed_sequence IS NULL AND s.name NOT LIKE 'approval:%'
                        AND s.name IN (SELECT jsonb_array_elements_text(r.waiting_for::jsonb))))
                   OR (r.status = 'running' AND (r.lease_expires_at IS NULL OR r.lease_expires_at < EXTRACT(EPOCH FROM clock_timestamp()))))
                  AND (\(names == nil) OR r.workflow = ANY(\(names ?? [])))
                ORDER BY r.updated_at, r.id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """, logger: logger
            ).first {
                let id: String = try Columns(row)("id")
                if let taken = try await Self.take(connection, runID: id, owner: owner, leaseDuration: leaseDuration, maxRecoveries: maxRecoveries, logger: logger) {
                    return taken
                }
            }
            // Runs whose owner died on this host can be taken before their lease expires.
            let running = try await connection.rows(
                """
                SELECT id, owner, workflow FROM keel_runs WHERE status = 'running' AND owner IS NOT NULL
                ORDER BY updated_at LIMIT 64 FOR UPDATE SKIP LOCKED
                """, logger: logger)
            for row in running {
                let columns = Columns(row)
                let (id, ownerID, workflow): (String, String, String) = (try columns("id"), try columns("owner"), try columns("workflow"))
                guard RunOwner.isDeadLocally(ownerID), workflows?.contains(workflow) ?? true else { continue }
                if let taken = try await Self.take(connection, runID: id, owner: owner, leaseDuration: leaseDuration, maxRecoveries: maxRecoveries, logger: logger) {
                    return taken
                }
            }
            return nil
        }
    }

    public func renew(_ lease: Lease, leaseDuration: Duration) async throws -> Lease {
        let logger = self.logger
        return try await write { connection in
            let updated = try await connection.rows(
                """
                UPDATE keel_runs SET lease_expires_at = EXTRACT(EPOCH FROM clock_timestamp()) + \(Self.seconds(leaseDuration))
                WHERE id = \(lease.runID) AND epoch = \(lease.epoch) AND owner = \(lease.owner) AND status = 'running'
                RETURNING lease_expires_at
                """, logger: logger)
            guard let row = updated.first else {
                try await Self.checkLease(connection, lease, logger: logger)
                throw StoreError(.leaseLost, "run '\(lease.runID)' is no longer held by this lease")
            }
            var renewed = lease
            renewed.expiresAt = Date(timeIntervalSince1970: try Columns(row)("lease_expires_at"))
            return renewed
        }
    }

    // MARK: Journal

    public func append(_ entry: JournalEntry, lease: Lease, effects: StepEffects) async throws {
        let logger = self.logger
        let key = configuration.auditKey
        guard !effects.isEmpty else {
            // One statement, so no transaction: the common step costs one round trip.
            try await statement { connection in try await Self.upsert(connection, entry: entry, lease: lease, logger: logger) }
            return
        }
        try await write { connection in
            try await Self.upsert(connection, entry: entry, lease: lease, logger: logger)
            if let settling = effects.settling {
                try await Self.settle(connection, settling, actual: entry.metering?.spend ?? .zero, logger: logger)
            }
            if !effects.audit.isEmpty { try await Self.appendAudit(connection, effects.audit, key: key, logger: logger) }
        }
    }

    public func suspend(_ lease: Lease, wakeAt: Date?, waitingFor: [String]) async throws {
        let logger = self.logger
        try await write { connection in
            try await Self.fence(connection, lease, logger: logger)
            let names = waitingFor.isEmpty ? nil : JSONValue.array(waitingFor.map(JSONValue.string)).serialized()
            // A signal that arrived (or an approval decided) before the wait leaves the run runnable.
            let signalled = try await connection.rows(
                """
                SELECT 1 FROM keel_signals WHERE run_id = \(lease.runID) AND name = ANY(\(waitingFor)) AND consumed_sequence IS NULL
                    AND name NOT LIKE 'approval:%'
                UNION ALL
                SELECT 1 FROM keel_approvals WHERE 'approval:' || id = ANY(\(waitingFor)) AND status IN ('approved', 'denied')
                LIMIT 1
                """, logger: logger)
            try await Self.fencedUpdate(
                connection, lease,
                """
                UPDATE keel_runs SET status = \(signalled.isEmpty ? "waiting" : "pending"), wake_at = \(wakeAt?.timeIntervalSince1970),
                    waiting_for = \(names), owner = NULL, lease_expires_at = NULL, updated_at = \(Date().timeIntervalSince1970), recoveries = 0
                WHERE id = \(lease.runID) AND epoch = \(lease.epoch) AND owner = \(lease.owner) AND status = 'running' RETURNING id
                """, logger: logger)
        }
    }

    public func finish(_ lease: Lease, status: RunStatus, output: JSONValue?, failure: RunFailure?) async throws {
        guard status.isFinished else { throw StoreError(.invalidState, "finish needs completed, failed or cancelled, not \(status)") }
        let logger = self.logger
        try await write { connection in
            try await Self.fence(connection, lease, logger: logger)
            let now = Date().timeIntervalSince1970
            try await Self.fencedUpdate(
                connection, lease,
                """
                UPDATE keel_runs SET status = \(status.rawValue), output = \(output?.serialized()), failure = \(try failure.map(Self.encodeFailure)),
                    owner = NULL, lease_expires_at = NULL, wake_at = NULL, waiting_for = NULL, updated_at = \(now)
                WHERE id = \(lease.runID) AND epoch = \(lease.epoch) AND owner = \(lease.owner) AND status = 'running' RETURNING id
                """, logger: logger)
            if status == .failed, let failure { try await Self.deadLetter(connection, runID: lease.runID, failure, logger: logger) }
        }
    }

    public func release(_ lease: Lease) async throws {
        let logger = self.logger
        try await write { connection in
            try await Self.fencedUpdate(
                connection, lease,
                """
                UPDATE keel_runs SET status = 'pending', owner = NULL, lease_expires_at = NULL, updated_at = \(Date().timeIntervalSince1970)
                WHERE id = \(lease.runID) AND epoch = \(lease.epoch) AND owner = \(lease.owner) AND status = 'running' RETURNING id
                """, logger: logger)
        }
    }

    // MARK: Signals

    public func signal(runID: String, name: String, payload: JSONValue, idempotencyKey: String?) async throws -> Bool {
        guard !ApprovalRecord.isReservedSignalName(name) else {
            throw StoreError(.invalidState, "'\(name)' is an approval's signal; decide the approval instead (keel approve or keel deny)")
        }
        let logger = self.logger
        return try await write { connection in
            // The run's row lock orders the sends to one run: two with one key cannot both pass.
            guard let row = try await connection.rows("SELECT * FROM keel_runs WHERE id = \(runID) FOR UPDATE", logger: logger).first else {
                throw StoreError(.notFound, "no run '\(runID)'")
            }
            let run = try Self.decodeRun(row)
            if let idempotencyKey,
                try await !connection.rows(
                    "SELECT 1 FROM keel_signals WHERE run_id = \(runID) AND idempotency_key = \(idempotencyKey)", logger: logger
                ).isEmpty
            {
                return false  // sent before: the retry of a send whose reply was lost
            }
            guard !run.status.isFinished else { throw StoreError(.invalidState, "run '\(runID)' is \(run.status); it takes no more signals") }
            let now = Date().timeIntervalSince1970
            try await connection.rows(
                """
                INSERT INTO keel_signals (run_id, name, payload, created_at, idempotency_key)
                VALUES (\(runID), \(name), \(payload.serialized()), \(now), \(idempotencyKey))
                """, logger: logger)
            if run.status == .waiting, run.waitingFor.contains(name) {
                try await connection.rows("UPDATE keel_runs SET status = 'pending', updated_at = \(now) WHERE id = \(runID)", logger: logger)
            }
            return true
        }
    }

    public func takeSignal(runID: String, name: String, journaling entry: JournalEntry, lease: Lease) async throws -> JSONValue? {
        let logger = self.logger
        return try await write { connection in
            try await Self.fence(connection, lease, logger: logger)
            guard let row = try await connection.rows(
                """
                SELECT id, payload FROM keel_signals WHERE run_id = \(runID) AND name = \(name) AND consumed_sequence IS NULL
                ORDER BY id LIMIT 1 FOR UPDATE
                """, logger: logger
            ).first else { return nil }
            let columns = Columns(row)
            let id: Int = try columns("id")
            let payload = try Self.json(try columns("payload"), what: "signal \(id) payload")
            try await connection.rows("UPDATE keel_signals SET consumed_sequence = \(entry.sequence) WHERE id = \(id)", logger: logger)
            var taken = entry
            taken.result = payload
            try await Self.upsert(connection, entry: taken, lease: lease, logger: logger)
            return payload
        }
    }

    // MARK: Cancel, reopen, fork

    public func cancel(runID: String) async throws -> RunRecord {
        let logger = self.logger
        return try await write { connection in
            guard let row = try await connection.rows("SELECT * FROM keel_runs WHERE id = \(runID) FOR UPDATE", logger: logger).first else {
                throw StoreError(.notFound, "no run '\(runID)'")
            }
            let run = try Self.decodeRun(row)
            guard !run.status.isFinished else { return run }
            // A new epoch fences off the owner, if any: its next write is refused.
            try await connection.rows(
                """
                UPDATE keel_runs SET status = 'cancelled', epoch = epoch + 1, owner = NULL, lease_expires_at = NULL, wake_at = NULL,
                    waiting_for = NULL, updated_at = \(Date().timeIntervalSince1970) WHERE id = \(runID)
                """, logger: logger)
            return try await Self.requireRun(connection, id: runID, logger: logger)
        }
    }

    public func reopen(runID: String) async throws -> RunRecord {
        let logger = self.logger
        return try await write { connection in
            guard let row = try await connection.rows("SELECT * FROM keel_runs WHERE id = \(runID) FOR UPDATE", logger: logger).first else {
                throw StoreError(.notFound, "no run '\(runID)'")
            }
            let run = try Self.decodeRun(row)
            guard try StoreRules.reopens(run) else { return run }
            let now = Date().timeIntervalSince1970
            try await connection.rows("UPDATE keel_runs SET status = 'pending', failure = NULL, recoveries = 0, updated_at = \(now) WHERE id = \(runID)", logger: logger)
            try await connection.rows(
                "UPDATE keel_dead_letters SET resolved_at = \(now) WHERE run_id = \(runID) AND resolved_at IS NULL", logger: logger)
            return try await Self.requireRun(connection, id: runID, logger: logger)
        }
    }

    public func fork(runID: String, atSequence sequence: Int, newRunID: String) async throws -> RunRecord {
        let logger = self.logger
        return try await write { connection in
            guard try await Self.fetchRun(connection, id: runID, logger: logger) != nil else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard try await Self.fetchRun(connection, id: newRunID, logger: logger) == nil else { throw StoreError(.conflict, "run id '\(newRunID)' is taken") }
            let count = try await connection.rows("SELECT COUNT(*) AS n FROM keel_journal WHERE run_id = \(runID) AND scope = ''", logger: logger)
            let length: Int = try count.first.map { try Columns($0)("n") } ?? 0
            try StoreRules.checkFork(runID: runID, at: sequence, length: length)
            let completed = try await connection.rows(
                "SELECT * FROM keel_journal WHERE run_id = \(runID) AND status = 'completed'", logger: logger
            ).map(Self.decodeEntry)
            let (sequence, kept) = JournalEntry.forked(completed, at: sequence)
            let now = Date().timeIntervalSince1970
            try await connection.rows(
                """
                INSERT INTO keel_runs (id, workflow, input, status, parent_run_id, forked_at, tenant, deadline_at, created_at, updated_at)
                SELECT \(newRunID), workflow, input, 'pending', id, \(sequence), tenant, deadline_at, \(now), \(now) FROM keel_runs WHERE id = \(runID)
                """, logger: logger)
            for (number, entry) in kept.sorted(by: { ($0.startedAt, $0.scope, $0.sequence) < ($1.startedAt, $1.scope, $1.sequence) }).enumerated() {
                var copy = entry
                copy.runID = newRunID
                try await Self.insertCopy(connection, entry: copy, commit: number + 1, logger: logger)
            }
            try await connection.rows("UPDATE keel_runs SET journal_commits = \(kept.count) WHERE id = \(newRunID)", logger: logger)
            return try await Self.requireRun(connection, id: newRunID, logger: logger)
        }
    }
}

extension PostgresRunStore {
    /// The lease epoch under which each of the run's own journal entries (outside scopes) was last
    /// written, in sequence order. Fencing means it never decreases along the journal: a worker whose lease was taken
    /// over cannot write after the worker that took it.
    public func journalEpochs(runID: String) async throws -> [Int] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("SELECT epoch FROM keel_journal WHERE run_id = \(runID) AND scope = '' ORDER BY sequence", logger: logger).map { try Columns($0)("epoch") }
        }
    }
}
