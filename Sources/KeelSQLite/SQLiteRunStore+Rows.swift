import Foundation
import GRDB
import KeelCore
import KeelRuntime

extension SQLiteRunStore {
    // MARK: Access with errors mapped

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch let error as MemoryError {
            throw error
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as MemoryError {
            throw error
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    static func storeError(_ error: any Error, path: String) -> StoreError {
        guard let error = error as? DatabaseError else {
            return StoreError(.unavailable, "the store at \(path) failed: \(error)", underlying: SQLiteFailure(description: "\(error)"))
        }
        let underlying = SQLiteFailure(description: error.description)
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(.locked, "the store at \(path) stayed locked by another process past the timeout; try again, or raise the timeout", underlying: underlying)
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreError(.corrupt, "\(path) is not a usable Keel store (\(error.message ?? "file is not a database")); move it aside or point --db elsewhere", underlying: underlying)
        case .SQLITE_FULL:
            return StoreError(.unavailable, "the store at \(path) is full (the disk, or its maximum size); nothing written was lost — make room and runs resume", underlying: underlying)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_IOERR:
            return StoreError(.unavailable, "cannot open or write the store at \(path) (\(error.message ?? "\(error.resultCode)"))", underlying: underlying)
        default:
            return StoreError(.unavailable, "the store at \(path) failed: \(error.message ?? "\(error.resultCode)")", underlying: underlying)
        }
    }

    // MARK: Leases

    /// Marks the run running under a new epoch owned by `owner`.
    /// Marks the run running under a new epoch owned by `owner` — or, when it is taken over from a
    /// worker that stopped (it was still running) for the `maxRecoveries + 1`-th time in a row
    /// without a finished step, quarantines it into the dead-letter queue and returns `nil`.
    static func take(_ db: Database, run: RunRecord, owner: RunOwner, leaseDuration: Duration, now: Date, maxRecoveries: Int) throws -> (Lease, RunRecord)? {
        let expires = now.addingTimeInterval(seconds(leaseDuration))
        try db.execute(
            sql: """
                UPDATE runs SET status = 'running', owner = ?, lease_expires_at = ?, epoch = epoch + 1, updated_at = ?,
                    recoveries = CASE WHEN status = 'running' THEN recoveries + 1 ELSE recoveries END
                WHERE id = ?
                """,
            arguments: [owner.id, expires.timeIntervalSince1970, now.timeIntervalSince1970, run.id])
        let recoveries = try Int.fetchOne(db, sql: "SELECT recoveries FROM runs WHERE id = ?", arguments: [run.id]) ?? 0
        if let failure = StoreRules.quarantine(recoveries: recoveries, maxRecoveries: maxRecoveries, lastOwner: run.owner) {
            try db.execute(
                sql: """
                    UPDATE runs SET status = 'failed', failure = ?, owner = NULL, lease_expires_at = NULL, wake_at = NULL,
                        waiting_for = NULL, updated_at = ? WHERE id = ?
                    """,
                arguments: [try encodeFailure(failure), now.timeIntervalSince1970, run.id])
            try deadLetter(db, runID: run.id, failure)
            return nil
        }
        let record = try requireRun(db, id: run.id)
        return (Lease(runID: run.id, owner: owner.id, epoch: record.epoch, expiresAt: expires), record)
    }

    /// Puts a failed run in the dead-letter queue (again, if it was there before).
    static func deadLetter(_ db: Database, runID: String, _ failure: RunFailure) throws {
        let length = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE run_id = ? AND status = 'completed'", arguments: [runID]) ?? 0
        try db.execute(
            sql: """
                INSERT INTO dead_letters (run_id, failure, journal_length, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (run_id) DO UPDATE SET failure = excluded.failure, journal_length = excluded.journal_length,
                    created_at = excluded.created_at, resolved_at = NULL
                """,
            arguments: [runID, try encodeFailure(failure), length, Date().timeIntervalSince1970])
    }

    /// Throws ``StoreError/Code/leaseLost`` unless the run is still running under this lease.
    static func checkLease(_ db: Database, _ lease: Lease) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT epoch, owner, status FROM runs WHERE id = ?", arguments: [lease.runID]) else {
            throw StoreError(.notFound, "no run '\(lease.runID)'")
        }
        let column = Columns(row, in: "runs")
        let epoch: Int = try column("epoch")
        let owner: String? = try column("owner")
        let status: String = try column("status")
        guard let known = RunStatus(rawValue: status) else { throw StoreError(.corrupt, "run '\(lease.runID)' has an unknown status '\(status)'") }
        try StoreRules.checkLease(lease, epoch: epoch, owner: owner, status: known)
    }

    static func requireLease(_ db: Database, _ lease: Lease) throws {
        if db.changesCount == 0 { try checkLease(db, lease) }
    }

    // MARK: Journal rows

    /// Inserts a started entry, or completes one; a second completion at a position is refused.
    /// One statement does both: an entry already at the position is replaced only while it is
    /// started and has the same name.
    static func upsert(_ db: Database, entry: JournalEntry, epoch: Int) throws {
        let usage = entry.metering?.usage
        try db.cachedStatement(sql: """
            INSERT INTO journal (run_id, sequence, name, kind, status, result, idempotency_key, side_effecting, attempts, model,
                input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_usd, wake_at, started_at, completed_at, epoch,
                scope, scope_anchor, cache_write_tokens, usage_estimated, commit_number)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                (SELECT COALESCE(MAX(commit_number), 0) + 1 FROM journal WHERE run_id = ?1))
            ON CONFLICT (run_id, scope, sequence) DO UPDATE SET commit_number = excluded.commit_number,
                kind = excluded.kind, status = excluded.status, result = excluded.result, idempotency_key = excluded.idempotency_key,
                side_effecting = excluded.side_effecting, attempts = excluded.attempts, model = excluded.model,
                input_tokens = excluded.input_tokens, cached_input_tokens = excluded.cached_input_tokens,
                output_tokens = excluded.output_tokens, reasoning_tokens = excluded.reasoning_tokens, cost_usd = excluded.cost_usd,
                cache_write_tokens = excluded.cache_write_tokens, usage_estimated = excluded.usage_estimated, wake_at = excluded.wake_at,
                started_at = excluded.started_at, completed_at = excluded.completed_at, epoch = excluded.epoch
            WHERE journal.status = 'started' AND journal.name = excluded.name
            """
        ).execute(arguments: [
            entry.runID, entry.sequence, entry.name, entry.kind.rawValue, entry.status.rawValue, entry.result?.serialized(),
            entry.idempotencyKey, entry.isSideEffecting, entry.attempts, entry.metering?.model, usage?.inputTokens,
            usage?.cachedInputTokens, usage?.outputTokens, usage?.reasoningTokens, entry.metering?.costUSD,
            entry.wakeAt?.timeIntervalSince1970, entry.startedAt.timeIntervalSince1970, entry.completedAt?.timeIntervalSince1970, epoch,
            entry.scope, entry.scopeAnchor, usage?.cacheWriteInputTokens, usage?.isEstimated ?? false,
        ])
        guard db.changesCount == 0 else { return }
        // Nothing changed: the position holds a completed step, or a step of another name.
        let existing = try Row.fetchOne(
            db, sql: "SELECT status, name FROM journal WHERE run_id = ? AND scope = ? AND sequence = ?", arguments: [entry.runID, entry.scope, entry.sequence])
        let name: String = try existing.map { try Columns($0, in: "journal")("name") } ?? ""
        guard name == entry.name else {
            throw StoreError(.invalidState, "step \(entry.sequence) of run '\(entry.runID)' was started as '\(name)', not '\(entry.name)'")
        }
        throw StoreError(.duplicateStep, "step \(entry.sequence) of run '\(entry.runID)' is already journaled")
    }

    static func decodeEntry(_ row: Row) throws -> JournalEntry {
        let column = Columns(row, in: "journal")
        let runID: String = try column("run_id")
        let sequence: Int = try column("sequence")
        guard let status = try JournalEntry.Status(rawValue: column("status")) else {
            throw StoreError(.corrupt, "journal entry \(sequence) of run '\(runID)' has an unknown status")
        }
        var metering: StepMetering?
        if let model: String = try column("model") {
            metering = try StepMetering(model: model, usage: Usage(
                inputTokens: column("input_tokens") ?? 0, cachedInputTokens: column("cached_input_tokens") ?? 0,
                outputTokens: column("output_tokens") ?? 0, reasoningTokens: column("reasoning_tokens") ?? 0,
                cacheWriteInputTokens: column("cache_write_tokens") ?? 0, isEstimated: column("usage_estimated") ?? false), costUSD: column("cost_usd"))
        }
        let result: String? = try column("result")
        return try JournalEntry(
            runID: runID, sequence: sequence, name: column("name"), kind: StepKind(column("kind")), status: status,
            result: try result.map { try json($0, what: "journal entry \(sequence) of run '\(runID)'") },
            idempotencyKey: column("idempotency_key"), isSideEffecting: column("side_effecting"), attempts: column("attempts"), metering: metering,
            wakeAt: date(column("wake_at")), startedAt: date(column("started_at")) ?? Date(timeIntervalSince1970: 0),
            completedAt: date(column("completed_at")), scope: column("scope"), scopeAnchor: column("scope_anchor"))
    }

    static func json(_ text: String, what: String) throws -> JSONValue { try StoreCoding.json(text, what: what) }
    static func encodeFailure(_ failure: RunFailure) throws -> String { try StoreCoding.encode(failure) }
    static func decodeFailure(_ text: String, runID: String) throws -> RunFailure { try StoreCoding.decodeFailure(text, runID: runID) }
    static func date(_ value: Double?) -> Date? { StoreCoding.date(value) }
    static func seconds(_ duration: Duration) -> TimeInterval { StoreCoding.seconds(duration) }

    // MARK: Run rows

    static func fetchRun(_ db: Database, id: String) throws -> RunRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(decodeRun)
    }

    static func requireRun(_ db: Database, id: String) throws -> RunRecord {
        guard let run = try fetchRun(db, id: id) else { throw StoreError(.notFound, "no run '\(id)'") }
        return run
    }

    static func decodeRun(_ row: Row) throws -> RunRecord {
        let column = Columns(row, in: "runs")
        let id: String = try column("id")
        guard let status = try RunStatus(rawValue: column("status")) else { throw StoreError(.corrupt, "run '\(id)' has an unknown status") }
        let output: String? = try column("output")
        let failure: String? = try column("failure")
        let waiting: String? = try column("waiting_for")
        let waitingFor = try waiting.map { try json($0, what: "signals run '\(id)' waits for").arrayValue?.compactMap(\.stringValue) ?? [] } ?? []
        return try RunRecord(
            id: id, workflow: column("workflow"), input: try json(column("input"), what: "input of run '\(id)'"), status: status,
            output: try output.map { try json($0, what: "output of run '\(id)'") },
            failure: try failure.map { try decodeFailure($0, runID: id) }, wakeAt: date(column("wake_at")), waitingFor: waitingFor,
            owner: column("owner"), leaseExpiresAt: date(column("lease_expires_at")), epoch: column("epoch"), parentRunID: column("parent_run_id"),
            forkedAt: column("forked_at"), tenant: column("tenant"), deadline: date(column("deadline_at")), createdAt: date(column("created_at")) ?? Date(timeIntervalSince1970: 0),
            updatedAt: date(column("updated_at")) ?? Date(timeIntervalSince1970: 0))
    }
}

/// A database error kept as its description (GRDB's errors are not all `Sendable`).
struct SQLiteFailure: Error, Sendable, CustomStringConvertible {
    let description: String
}
