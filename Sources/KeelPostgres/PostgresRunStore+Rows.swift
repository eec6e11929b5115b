import Foundation
import KeelCore
import KeelRuntime
import Logging
import PostgresNIO

/// The statements the run operations share: taking a run, fencing a write by its lease, dead
/// letters, the journal's rows, and decoding rows.
extension PostgresRunStore {
    /// Marks the run running under a new epoch owned by `owner`, its lease expiring on the
    /// database's clock — or, when it is taken over from a worker that stopped (it was still
    /// running) for the `maxRecoveries + 1`-th time in a row without a finished step, quarantines it
    /// into the dead-letter queue and returns `nil`.
    static func take(
        _ connection: PostgresConnection, runID: String, owner: RunOwner, leaseDuration: Duration, maxRecoveries: Int, logger: Logger
    ) async throws -> (Lease, RunRecord)? {
        guard let row = try await connection.rows(
            """
            WITH previous AS (SELECT owner FROM keel_runs WHERE id = \(runID))
            UPDATE keel_runs SET status = 'running', owner = \(owner.id),
                lease_expires_at = EXTRACT(EPOCH FROM clock_timestamp()) + \(seconds(leaseDuration)), epoch = epoch + 1,
                updated_at = EXTRACT(EPOCH FROM clock_timestamp()),
                recoveries = CASE WHEN status = 'running' THEN recoveries + 1 ELSE recoveries END
            FROM previous
            WHERE id = \(runID) RETURNING keel_runs.*, previous.owner AS previous_owner
            """, logger: logger
        ).first else { throw StoreError(.notFound, "no run '\(runID)'") }
        let columns = Columns(row)
        let recoveries: Int = try columns("recoveries")
        if let failure = StoreRules.quarantine(recoveries: recoveries, maxRecoveries: maxRecoveries, lastOwner: try columns("previous_owner")) {
            try await connection.rows(
                """
                UPDATE keel_runs SET status = 'failed', failure = \(try encodeFailure(failure)), owner = NULL, lease_expires_at = NULL,
                    wake_at = NULL, waiting_for = NULL, updated_at = EXTRACT(EPOCH FROM clock_timestamp())
                WHERE id = \(runID)
                """, logger: logger)
            try await deadLetter(connection, runID: runID, failure, logger: logger)
            return nil
        }
        let record = try decodeRun(row)
        return (Lease(runID: runID, owner: owner.id, epoch: record.epoch, expiresAt: record.leaseExpiresAt ?? Date()), record)
    }

    /// Puts a failed run in the dead-letter queue (again, if it was there before).
    static func deadLetter(_ connection: PostgresConnection, runID: String, _ failure: RunFailure, logger: Logger) async throws {
        try await connection.rows(
            """
            INSERT INTO keel_dead_letters (run_id, failure, journal_length, created_at)
            SELECT \(runID), \(try encodeFailure(failure)), COUNT(*), EXTRACT(EPOCH FROM clock_timestamp())
            FROM keel_journal WHERE run_id = \(runID) AND status = 'completed'
            ON CONFLICT (run_id) DO UPDATE SET failure = EXCLUDED.failure, journal_length = EXCLUDED.journal_length,
                created_at = EXCLUDED.created_at, resolved_at = NULL
            """, logger: logger)
    }

    /// The database's clock.
    static func databaseTime(_ connection: PostgresConnection, logger: Logger) async throws -> Date {
        let rows = try await connection.rows("SELECT EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION AS now", logger: logger)
        guard let row = rows.first else { throw StoreError(.unavailable, "the database did not tell its time") }
        return Date(timeIntervalSince1970: try Columns(row)("now"))
    }

    /// Locks the run for the rest of the transaction if it is still running under `lease`, and
    /// throws ``StoreError/Code/leaseLost`` otherwise.
    ///
    /// The check and the lock are one `UPDATE` whose `WHERE` carries the epoch and the owner:
    /// under READ COMMITTED a plain `SELECT` followed by an `UPDATE … WHERE id` let a zombie's
    /// write commit after another worker's claim (the `UPDATE` waited for the claim, then matched
    /// the id all the same). An `UPDATE` that waits re-checks its `WHERE` against the row the
    /// claim committed, and finds nothing.
    static func fence(_ connection: PostgresConnection, _ lease: Lease, logger: Logger) async throws {
        try await fencedUpdate(
            connection, lease,
            """
            UPDATE keel_runs SET updated_at = updated_at
            WHERE id = \(lease.runID) AND epoch = \(lease.epoch) AND owner = \(lease.owner) AND status = 'running' RETURNING id
            """, logger: logger)
    }

    /// Runs an `UPDATE … RETURNING` of the run whose `WHERE` carries the lease; no row is
    /// ``StoreError/Code/leaseLost`` (or ``StoreError/Code/notFound``).
    static func fencedUpdate(_ connection: PostgresConnection, _ lease: Lease, _ query: PostgresQuery, logger: Logger) async throws {
        let updated = try await connection.rows(query, logger: logger)
        if updated.isEmpty {
            try await checkLease(connection, lease, logger: logger)
            throw StoreError(.leaseLost, "run '\(lease.runID)' is no longer held by this lease; this process stops running it")
        }
    }

    /// Throws ``StoreError/Code/leaseLost`` unless the run is still running under this lease.
    static func checkLease(_ connection: PostgresConnection, _ lease: Lease, logger: Logger) async throws {
        guard let row = try await connection.rows("SELECT epoch, owner, status FROM keel_runs WHERE id = \(lease.runID)", logger: logger).first else {
            throw StoreError(.notFound, "no run '\(lease.runID)'")
        }
        let columns = Columns(row)
        let epoch: Int = try columns("epoch")
        let owner: String? = try columns("owner")
        let status: String = try columns("status")
        guard let known = RunStatus(rawValue: status) else { throw StoreError(.corrupt, "run '\(lease.runID)' has an unknown status '\(status)'") }
        try StoreRules.checkLease(lease, epoch: epoch, owner: owner, status: known)
    }

    /// Inserts a started entry, or completes one; a second completion at a position is refused.
    ///
    /// One statement does it all: it touches the run under the lease (which checks the lease and
    /// locks the run), and writes the entry only if that found the run — so a worker whose lease
    /// was taken over writes nothing. An entry already at the position is replaced only while it is
    /// started and has the same name.
    static func upsert(_ connection: PostgresConnection, entry: JournalEntry, lease: Lease, logger: Logger) async throws {
        let usage = entry.metering?.usage
        let changed = try await connection.rows(
            """
            WITH fenced AS (
                UPDATE keel_runs SET updated_at = \(Date().timeIntervalSince1970),
                    recoveries = CASE WHEN \(entry.status == .completed) THEN 0 ELSE keel_runs.recoveries END,
                    journal_commits = keel_runs.journal_commits + 1
                WHERE id = \(lease.runID) AND epoch = \(lease.epoch) AND owner = \(lease.owner) AND status = 'running' RETURNING id, journal_commits
            )
            INSERT INTO keel_journal (run_id, scope, scope_anchor, sequence, name, kind, status, result, idempotency_key, side_effecting,
                attempts, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_usd, wake_at, started_at, completed_at,
                epoch, cache_write_tokens, usage_estimated, commit_number)
            SELECT fenced.id, \(entry.scope), \(entry.scopeAnchor), \(entry.sequence), \(entry.name), \(entry.kind.rawValue), \(entry.status.rawValue), \(entry.result?.serialized()),
                \(entry.idempotencyKey), \(entry.isSideEffecting), \(entry.attempts), \(entry.metering?.model), \(usage?.inputTokens),
                \(usage?.cachedInputTokens), \(usage?.outputTokens), \(usage?.reasoningTokens), \(entry.metering?.costUSD),
                \(entry.wakeAt?.timeIntervalSince1970), \(entry.startedAt.timeIntervalSince1970), \(entry.completedAt?.timeIntervalSince1970), \(lease.epoch),
                \(usage?.cacheWriteInputTokens), \(usage?.isEstimated ?? false), fenced.journal_commits
            FROM fenced
            ON CONFLICT (run_id, scope, sequence) DO UPDATE SET commit_number = EXCLUDED.commit_number,
                kind = EXCLUDED.kind, status = EXCLUDED.status, result = EXCLUDED.result, idempotency_key = EXCLUDED.idempotency_key,
                side_effecting = EXCLUDED.side_effecting, attempts = EXCLUDED.attempts, model = EXCLUDED.model,
                input_tokens = EXCLUDED.input_tokens, cached_input_tokens = EXCLUDED.cached_input_tokens,
                output_tokens = EXCLUDED.output_tokens, reasoning_tokens = EXCLUDED.reasoning_tokens, cost_usd = EXCLUDED.cost_usd,
                cache_write_tokens = EXCLUDED.cache_write_tokens, usage_estimated = EXCLUDED.usage_estimated, wake_at = EXCLUDED.wake_at, started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at, epoch = EXCLUDED.epoch
            WHERE keel_journal.status = 'started' AND keel_journal.name = EXCLUDED.name
            RETURNING sequence
            """, logger: logger)
        guard changed.isEmpty else { return }
        // Nothing written: the lease is lost, or the position holds a completed step or one of
        // another name.
        try await checkLease(connection, lease, logger: logger)
        let existing = try await connection.rows(
            "SELECT name FROM keel_journal WHERE run_id = \(entry.runID) AND scope = \(entry.scope) AND sequence = \(entry.sequence)", logger: logger)
        let name: String = try existing.first.map { try Columns($0)("name") } ?? ""
        guard name == entry.name else {
            throw StoreError(.invalidState, "step \(entry.sequence) of run '\(entry.runID)' was started as '\(name)', not '\(entry.name)'")
        }
        throw StoreError(.duplicateStep, "step \(entry.sequence) of run '\(entry.runID)' is already journaled")
    }

    /// Writes a completed entry into a new run's journal (a fork), at epoch 0, as its `commit`-th write.
    static func insertCopy(_ connection: PostgresConnection, entry: JournalEntry, commit: Int, logger: Logger) async throws {
        let usage = entry.metering?.usage
        try await connection.rows(
            """
            INSERT INTO keel_journal (run_id, scope, scope_anchor, sequence, name, kind, status, result, idempotency_key, side_effecting,
                attempts, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_usd, wake_at, started_at, completed_at,
                epoch, cache_write_tokens, usage_estimated, commit_number)
            VALUES (\(entry.runID), \(entry.scope), \(entry.scopeAnchor), \(entry.sequence), \(entry.name), \(entry.kind.rawValue),
                \(entry.status.rawValue), \(entry.result?.serialized()), \(entry.idempotencyKey), \(entry.isSideEffecting), \(entry.attempts),
                \(entry.metering?.model), \(usage?.inputTokens), \(usage?.cachedInputTokens), \(usage?.outputTokens), \(usage?.reasoningTokens),
                \(entry.metering?.costUSD), \(entry.wakeAt?.timeIntervalSince1970), \(entry.startedAt.timeIntervalSince1970),
                \(entry.completedAt?.timeIntervalSince1970), 0, \(usage?.cacheWriteInputTokens), \(usage?.isEstimated ?? false), \(commit))
            """, logger: logger)
    }

    static func fetchRun(_ connection: PostgresConnection, id: String, logger: Logger) async throws -> RunRecord? {
        try await connection.rows("SELECT * FROM keel_runs WHERE id = \(id)", logger: logger).first.map(decodeRun)
    }

    static func requireRun(_ connection: PostgresConnection, id: String, logger: Logger) async throws -> RunRecord {
        guard let run = try await fetchRun(connection, id: id, logger: logger) else { throw StoreError(.notFound, "no run '\(id)'") }
        return run
    }

    static func decodeRun(_ row: PostgresRow) throws -> RunRecord {
        let columns = Columns(row)
        let id: String = try columns("id")
        guard let status = RunStatus(rawValue: try columns("status")) else { throw StoreError(.corrupt, "run '\(id)' has an unknown status") }
        let output: String? = try columns("output")
        let failure: String? = try columns("failure")
        let waiting: String? = try columns("waiting_for")
        let waitingFor = try waiting.map { try json($0, what: "signals run '\(id)' waits for").arrayValue?.compactMap(\.stringValue) ?? [] } ?? []
        return RunRecord(
            id: id, workflow: try columns("workflow"), input: try json(try columns("input"), what: "input of run '\(id)'"), status: status,
            output: try output.map { try json($0, what: "output of run '\(id)'") },
            failure: try failure.map { try decodeFailure($0, runID: id) }, wakeAt: date(try columns("wake_at")), waitingFor: waitingFor,
            owner: try columns("owner"), leaseExpiresAt: date(try columns("lease_expires_at")), epoch: try columns("epoch"),
            parentRunID: try columns("parent_run_id"), forkedAt: try columns("forked_at"), tenant: try columns("tenant"),
            deadline: date(try columns("deadline_at")), createdAt: date(try columns("created_at")) ?? Date(timeIntervalSince1970: 0),
            updatedAt: date(try columns("updated_at")) ?? Date(timeIntervalSince1970: 0))
    }

    static func decodeEntry(_ row: PostgresRow) throws -> JournalEntry {
        let columns = Columns(row)
        let runID: String = try columns("run_id")
        let sequence: Int = try columns("sequence")
        guard let status = JournalEntry.Status(rawValue: try columns("status")) else {
            throw StoreError(.corrupt, "journal entry \(sequence) of run '\(runID)' has an unknown status")
        }
        var metering: StepMetering?
        if let model: String = try columns("model") {
            let input: Int? = try columns("input_tokens")
            let cached: Int? = try columns("cached_input_tokens")
            let output: Int? = try columns("output_tokens")
            let reasoning: Int? = try columns("reasoning_tokens")
            let written: Int? = try columns("cache_write_tokens")
            let estimated: Bool? = try columns("usage_estimated")
            metering = StepMetering(
                model: model,
                usage: Usage(
                    inputTokens: input ?? 0, cachedInputTokens: cached ?? 0, outputTokens: output ?? 0, reasoningTokens: reasoning ?? 0,
                    cacheWriteInputTokens: written ?? 0, isEstimated: estimated ?? false),
                costUSD: try columns("cost_usd"))
        }
        let result: String? = try columns("result")
        return JournalEntry(
            runID: runID, sequence: sequence, name: try columns("name"), kind: StepKind(try columns("kind")), status: status,
            result: try result.map { try json($0, what: "journal entry \(sequence) of run '\(runID)'") },
            idempotencyKey: try columns("idempotency_key"), isSideEffecting: try columns("side_effecting"), attempts: try columns("attempts"),
            metering: metering, wakeAt: date(try columns("wake_at")),
            startedAt: date(try columns("started_at")) ?? Date(timeIntervalSince1970: 0), completedAt: date(try columns("completed_at")),
            scope: try columns("scope"), scopeAnchor: try columns("scope_anchor"))
    }

    static func json(_ text: String, what: String) throws -> JSONValue { try StoreCoding.json(text, what: what) }
    static func encodeFailure(_ failure: RunFailure) throws -> String { try StoreCoding.encode(failure) }
    static func decodeFailure(_ text: String, runID: String) throws -> RunFailure { try StoreCoding.decodeFailure(text, runID: runID) }
    static func date(_ value: Double?) -> Date? { StoreCoding.date(value) }
    static func seconds(_ duration: Duration) -> TimeInterval { StoreCoding.seconds(duration) }
}
