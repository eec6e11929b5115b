import Foundation
import GRDB
import KeelCore
import KeelRuntime
import Logging

/// Keel's embedded store: one SQLite file in WAL mode, safe for several processes on one machine.
///
/// ```swift
/// let store = try SQLiteRunStore(path: "keel.db")
/// let runtime = DurableRuntime(store: store, workflows: [ReportWorkflow()])
/// ```
///
/// Every write is an immediate transaction, so two processes never interleave inside one; a
/// process that finds the file locked waits up to ``Configuration/busyTimeout`` and then fails with
/// ``StoreError/Code/locked``. A file that is not a Keel store fails with
/// ``StoreError/Code/corrupt``, and one written by a newer Keel with
/// ``StoreError/Code/newerSchema``, before anything is written.
public final class SQLiteRunStore: RunStore {
    /// How the store opens its file.
    public struct Configuration: Sendable {
        /// How long to wait for another process's write to finish. Default: 5 seconds.
        public var busyTimeout: Duration = .seconds(5)
        /// `normal` is durable against a process crash; `full` also against power loss, at the
        /// cost of an fsync per commit. Default: `normal`.
        public var synchronous: Synchronous = .normal
        /// How many times in a row a run may be taken over from a worker that stopped while running
        /// it (its lease lapsed, or its process is gone) without finishing a step, before it is
        /// quarantined: failed into the dead-letter queue, so that a run that crashes whoever runs
        /// it does not take every worker down in turn. Finishing a step starts the count again.
        /// Default: 50 — well past what deploys and kills do to a healthy run (a process killed
        /// before it finishes its first step after a restart counts too).
        public var maxRecoveries: Int = 50
        /// The most the file may grow to, in bytes (SQLite's `max_page_count`). A write that needs
        /// more fails with ``KeelRuntime/StoreError/Code/unavailable`` and loses nothing already
        /// written — as a full disk does: a run being written is given back, and resumes once
        /// there is room. Default: no limit but the disk's.
        public var maximumSize: Int?
        /// The key of a keyed audit chain (HMAC-SHA256), such as ``KeelRuntime/AuditKey/fromEnvironment(_:)``.
        /// Default: none (a SHA-256 chain).
        public var auditKey: AuditKey?

        /// SQLite's `synchronous` setting in WAL mode.
        public enum Synchronous: String, Sendable {
            case normal = "NORMAL"
            case full = "FULL"
        }

        public init() {}
    }

    /// The file's path.
    public let path: String
    /// Takeovers without progress before a run is quarantined (``Configuration/maxRecoveries``).
    let maxRecoveries: Int
    /// The audit chain's key, if it is keyed.
    let auditKey: AuditKey?
    let pool: DatabasePool

    /// Opens (creating if needed) the store at `path` and brings its schema up to date. It may
    /// wait for another process (a lock, a migration), blocking the calling thread: from async
    /// code, ``open(path:configuration:)`` waits on a thread of its own.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        self.path = path
        self.maxRecoveries = max(1, configuration.maxRecoveries)
        self.auditKey = configuration.auditKey
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeout.timeInterval)
        config.foreignKeysEnabled = true
        config.label = "keel"
        if let maximumSize = configuration.maximumSize {
            let pages = max(16, maximumSize / 4_096)
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        }
        do {
            pool = try Self.open(path, configuration: config, settings: configuration)
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    /// Opens the store as ``init(path:configuration:)`` does, on a thread of its own: opening
    /// may wait — for another process's lock, for a migration — and waiting there blocks a thread,
    /// which must not be one of Swift's cooperative threads (a handful, shared by every task).
    public static func open(path: String, configuration: Configuration = Configuration()) async throws -> SQLiteRunStore {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try SQLiteRunStore(path: path, configuration: configuration) })
            }
            thread.name = "keel.sqlite.open"
            thread.start()
        }
    }

    /// Opens the file and brings its schema up to date. Processes that open a new file at once
    /// race to create it, turn on WAL and migrate it: the losers may be told the database is busy
    /// at once, whatever the busy timeout (a WAL switch or a stale snapshot does not wait). So the
    /// whole opening is tried again, for twice the busy timeout, before it fails.
    private static func open(_ path: String, configuration config: GRDB.Configuration, settings: Configuration) throws -> DatabasePool {
        let clock = ContinuousClock()
        let giveUp = clock.now + settings.busyTimeout * 2
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: config)
                try pool.writeWithoutTransaction { db in
                    // GRDB sets NORMAL when it turns WAL on; FULL is set after that, per writer connection.
                    try db.execute(sql: "PRAGMA synchronous = \(settings.synchronous.rawValue)")
                }
                let migrator = Self.migrator
                try pool.read { db in
                    let known = Set(migrator.migrations)
                    let applied = try migrator.appliedIdentifiers(db)
                    let unknown = applied.subtracting(known)
                    if !unknown.isEmpty {
                        throw StoreError(.newerSchema, "\(path) was written by a newer Keel (it has schema \(unknown.sorted().joined(separator: ", ")), this build knows up to \(migrator.migrations.last ?? "none")); upgrade keel to open it")
                    }
                }
                try Self.migrate(pool, with: migrator, patience: settings.busyTimeout * 2)
                return pool
            } catch let error as DatabaseError where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && clock.now < giveUp {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Brings the schema up to date. Two processes opening a new file at once may both try a
    /// migration; the one that loses (its snapshot is stale, or the other holds the lock) finds it
    /// applied by the other and carries on. It keeps trying for `patience` — a migration that
    /// rebuilds a table takes a while on a loaded machine — and then fails with what it got.
    private static func migrate(_ pool: DatabasePool, with migrator: DatabaseMigrator, patience: Duration) throws {
        let clock = ContinuousClock()
        let giveUp = clock.now + patience
        while true {
            do {
                try migrator.migrate(pool)
                return
            } catch {
                if try pool.read({ try migrator.hasCompletedMigrations($0) }) { return }
                guard clock.now < giveUp else { throw error }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Copies the write-ahead log into the database file and truncates the log, so that the file
    /// holds everything (for backups, and to measure the store's size).
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// The current `PRAGMA synchronous` of the writer connection (1 is NORMAL, 2 is FULL).
    public func synchronousSetting() throws -> Int {
        try pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    // MARK: Runs

    public func createRun(_ run: NewRun) async throws -> (record: RunRecord, created: Bool) {
        try await write { db in
            if let existing = try Self.fetchRun(db, id: run.id) {
                guard existing.workflow == run.workflow else {
                    throw StoreError(.conflict, "run id '\(run.id)' already belongs to a '\(existing.workflow)' run")
                }
                return (existing, false)
            }
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: "INSERT INTO runs (id, workflow, input, status, tenant, deadline_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                arguments: [run.id, run.workflow, run.input.serialized(), run.tenant, run.deadline?.timeIntervalSince1970, now, now])
            return (try Self.requireRun(db, id: run.id), true)
        }
    }

    public func run(id: String) async throws -> RunRecord? {
        try await read { db in try Self.fetchRun(db, id: id) }
    }

    public func listRuns(_ query: RunQuery) async throws -> [RunRecord] {
        try await read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let statuses = query.statuses, !statuses.isEmpty {
                clauses.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))")
                for status in statuses.sorted(by: { $0.rawValue < $1.rawValue }) { _ = arguments.append(contentsOf: [status.rawValue]) }
            }
            if let workflow = query.workflow {
                clauses.append("workflow = ?")
                _ = arguments.append(contentsOf: [workflow])
            }
            if let tenant = query.tenant {
                clauses.append("tenant = ?")
                _ = arguments.append(contentsOf: [tenant])
            }
            if let after = query.after {
                clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
                let seconds = after.createdAt.timeIntervalSince1970
                _ = arguments.append(contentsOf: [seconds, seconds, after.id])
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [query.limit])
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM runs \(whereClause) ORDER BY created_at DESC, id DESC LIMIT ?", arguments: arguments)
            return try rows.map(Self.decodeRun)
        }
    }

    public func journal(runID: String) async throws -> [JournalEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM journal WHERE run_id = ? ORDER BY scope, sequence", arguments: [runID]).map(Self.decodeEntry)
        }
    }

    // MARK: Leases

    public func claim(runID: String, owner: RunOwner, leaseDuration: Duration) async throws -> ClaimResult {
        let maxRecoveries = self.maxRecoveries
        return try await write { db in
            guard let run = try Self.fetchRun(db, id: runID) else { return .notFound }
            let now = Date()
            if let blocker = StoreRules.claimBlocker(run, claimant: owner, now: now) { return blocker }
            guard let taken = try Self.take(db, run: run, owner: owner, leaseDuration: leaseDuration, now: now, maxRecoveries: maxRecoveries) else {
                return .finished(try Self.requireRun(db, id: runID))
            }
            return .claimed(taken.0, taken.1)
        }
    }

    public func claimNextRunnable(owner: RunOwner, leaseDuration: Duration, workflows: Set<String>?) async throws -> (Lease, RunRecord)? {
        // The workflows this process knows are filtered in SQL: runs of other workflows, however
        // many, must not hide the runnable ones behind a LIMIT.
        let known = workflows.map { JSONValue.array($0.sorted().map(JSONValue.string)).serialized() }
        let maxRecoveries = self.maxRecoveries
        return try await write { db in
            let now = Date()
            // A run quarantined as it is taken is not claimed: look for the next one.
            while let row = try Row.fetchOne(db, sql: """
                SELECT * FROM runs
                WHERE (status = 'pending'
                   OR (status = 'waiting' AND wake_at IS NOT NULL AND wake_at <= ?)
                   OR (status = 'waiting' AND waiting_for IS NOT NULL AND EXISTS (
                        SELECT 1 FROM signals s WHERE s.run_id = runs.id AND s.consumed_sequence IS NULL AND s.name NOT LIKE 'approval:%'
                        AND s.name IN (SELECT value FROM json_each(runs.waiting_for))))
                   OR (status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < ?)))
                  AND (? IS NULL OR workflow IN (SELECT value FROM json_each(?)))
                ORDER BY updated_at, id
                LIMIT 1
                """, arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970, known, known])
            {
                if let taken = try Self.take(db, run: try Self.decodeRun(row), owner: owner, leaseDuration: leaseDuration, now: now, maxRecoveries: maxRecoveries) {
                    return taken
                }
            }
            // Runs whose owner died on this host can be taken before their lease expires.
            let orphans = try Row.fetchAll(db, sql: """
                SELECT * FROM runs WHERE status = 'running' AND (? IS NULL OR workflow IN (SELECT value FROM json_each(?)))
                ORDER BY updated_at LIMIT 64
                """, arguments: [known, known]).map(Self.decodeRun)
            for run in orphans where run.owner.map(RunOwner.isDeadLocally) == true {
                if let taken = try Self.take(db, run: run, owner: owner, leaseDuration: leaseDuration, now: now, maxRecoveries: maxRecoveries) {
                    return taken
                }
            }
            return nil
        }
    }

    public func renew(_ lease: Lease, leaseDuration: Duration) async throws -> Lease {
        try await write { db in
            let expires = Date().addingTimeInterval(Self.seconds(leaseDuration))
            try db.execute(
                sql: "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND epoch = ? AND owner = ? AND status = 'running'",
                arguments: [expires.timeIntervalSince1970, lease.runID, lease.epoch, lease.owner])
            try Self.requireLease(db, lease)
            var renewed = lease
            renewed.expiresAt = expires
            return renewed
        }
    }

    // MARK: Journal

    public func append(_ entry: JournalEntry, lease: Lease, effects: StepEffects) async throws {
        let key = auditKey
        try await write { db in
            // Touching the run under its lease checks the lease in the same statement.
            // A finished step is progress: the run is not what stops its workers.
            try db.cachedStatement(sql: """
                UPDATE runs SET updated_at = ?, recoveries = CASE WHEN ? THEN 0 ELSE recoveries END
                WHERE id = ? AND epoch = ? AND owner = ? AND status = 'running'
                """)
                .execute(arguments: [Date().timeIntervalSince1970, entry.status == .completed, lease.runID, lease.epoch, lease.owner])
            if db.changesCount == 0 { try Self.checkLease(db, lease) }
            try Self.upsert(db, entry: entry, epoch: lease.epoch)
            if let settling = effects.settling {
                try Self.settle(db, settling, actual: entry.metering?.spend ?? .zero)
            }
            if !effects.audit.isEmpty { try Self.appendAudit(db, effects.audit, key: key) }
        }
    }

    public func suspend(_ lease: Lease, wakeAt: Date?, waitingFor: [String]) async throws {
        try await write { db in
            try Self.checkLease(db, lease)
            let names = waitingFor.isEmpty ? nil : JSONValue.array(waitingFor.map(JSONValue.string)).serialized()
            // A signal that arrived (or an approval decided) before the wait leaves the run runnable.
            let signalled = try waitingFor.contains { name in
                try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM signals WHERE run_id = ? AND name = ? AND consumed_sequence IS NULL AND name NOT LIKE 'approval:%')
                            OR EXISTS (SELECT 1 FROM approvals WHERE 'approval:' || id = ? AND status IN ('approved', 'denied'))
                        """,
                    arguments: [lease.runID, name, name]) ?? false
            }
            try db.execute(
                sql: """
                    UPDATE runs SET status = ?, wake_at = ?, waiting_for = ?, owner = NULL, lease_expires_at = NULL, updated_at = ?, recoveries = 0
                    WHERE id = ?
                    """,
                arguments: [signalled ? "pending" : "waiting", wakeAt?.timeIntervalSince1970, names, Date().timeIntervalSince1970, lease.runID])
        }
    }

    public func finish(_ lease: Lease, status: RunStatus, output: JSONValue?, failure: RunFailure?) async throws {
        guard status.isFinished else { throw StoreError(.invalidState, "finish needs completed, failed or cancelled, not \(status)") }
        try await write { db in
            try Self.checkLease(db, lease)
            try db.execute(
                sql: """
                    UPDATE runs SET status = ?, output = ?, failure = ?, owner = NULL, lease_expires_at = NULL, wake_at = NULL,
                    waiting_for = NULL, updated_at = ? WHERE id = ?
                    """,
                arguments: [status.rawValue, output?.serialized(), try failure.map(Self.encodeFailure), Date().timeIntervalSince1970, lease.runID])
            if status == .failed, let failure { try Self.deadLetter(db, runID: lease.runID, failure) }
        }
    }

    public func release(_ lease: Lease) async throws {
        try await write { db in
            try Self.checkLease(db, lease)
            try db.execute(
                sql: "UPDATE runs SET status = 'pending', owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
                arguments: [Date().timeIntervalSince1970, lease.runID])
        }
    }

    // MARK: Signals

    public func signal(runID: String, name: String, payload: JSONValue, idempotencyKey: String?) async throws -> Bool {
        guard !ApprovalRecord.isReservedSignalName(name) else {
            throw StoreError(.invalidState, "'\(name)' is an approval's signal; decide the approval instead (keel approve or keel deny)")
        }
        return try await write { db in
            guard let run = try Self.fetchRun(db, id: runID) else { throw StoreError(.notFound, "no run '\(runID)'") }
            if let idempotencyKey,
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM signals WHERE run_id = ? AND idempotency_key = ?)", arguments: [runID, idempotencyKey]) == true
            {
                return false  // sent before: the retry of a send whose reply was lost
            }
            guard !run.status.isFinished else { throw StoreError(.invalidState, "run '\(runID)' is \(run.status); it takes no more signals") }
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: "INSERT INTO signals (run_id, name, payload, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?)",
                arguments: [runID, name, payload.serialized(), now, idempotencyKey])
            if run.status == .waiting, run.waitingFor.contains(name) {
                try db.execute(sql: "UPDATE runs SET status = 'pending', updated_at = ? WHERE id = ?", arguments: [now, runID])
            }
            return true
        }
    }

    public func takeSignal(runID: String, name: String, journaling entry: JournalEntry, lease: Lease) async throws -> JSONValue? {
        try await write { db in
            try Self.checkLease(db, lease)
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, payload FROM signals WHERE run_id = ? AND name = ? AND consumed_sequence IS NULL ORDER BY id LIMIT 1",
                arguments: [runID, name])
            else { return nil }
            let column = Columns(row, in: "signals")
            let id: Int64 = try column("id")
            let payload = try Self.json(column("payload"), what: "signal \(id) payload")
            try db.execute(sql: "UPDATE signals SET consumed_sequence = ? WHERE id = ?", arguments: [entry.sequence, id])
            var taken = entry
            taken.result = payload
            try Self.upsert(db, entry: taken, epoch: lease.epoch)
            return payload
        }
    }

    // MARK: Cancel, reopen, fork

    public func cancel(runID: String) async throws -> RunRecord {
        try await write { db in
            guard let run = try Self.fetchRun(db, id: runID) else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard !run.status.isFinished else { return run }
            // A new epoch fences off the owner, if any: its next write is refused.
            try db.execute(
                sql: """
                    UPDATE runs SET status = 'cancelled', epoch = epoch + 1, owner = NULL, lease_expires_at = NULL, wake_at = NULL,
                    waiting_for = NULL, updated_at = ? WHERE id = ?
                    """,
                arguments: [Date().timeIntervalSince1970, runID])
            return try Self.requireRun(db, id: runID)
        }
    }

    public func reopen(runID: String) async throws -> RunRecord {
        try await write { db in
            guard let run = try Self.fetchRun(db, id: runID) else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard try StoreRules.reopens(run) else { return run }
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE runs SET status = 'pending', failure = NULL, recoveries = 0, updated_at = ? WHERE id = ?", arguments: [now, runID])
            try db.execute(sql: "UPDATE dead_letters SET resolved_at = ? WHERE run_id = ? AND resolved_at IS NULL", arguments: [now, runID])
            return try Self.requireRun(db, id: runID)
        }
    }

    public func fork(runID: String, atSequence sequence: Int, newRunID: String) async throws -> RunRecord {
        try await write { db in
            guard let run = try Self.fetchRun(db, id: runID) else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard try Self.fetchRun(db, id: newRunID) == nil else { throw StoreError(.conflict, "run id '\(newRunID)' is taken") }
            let length = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE run_id = ? AND scope = ''", arguments: [runID]) ?? 0
            try StoreRules.checkFork(runID: runID, at: sequence, length: length)
            let completed = try Row.fetchAll(db, sql: "SELECT * FROM journal WHERE run_id = ? AND status = 'completed'", arguments: [runID])
                .map(Self.decodeEntry)
            let (sequence, kept) = JournalEntry.forked(completed, at: sequence)
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: """
                    INSERT INTO runs (id, workflow, input, status, parent_run_id, forked_at, tenant, deadline_at, created_at, updated_at)
                    SELECT ?, workflow, input, 'pending', id, ?, tenant, deadline_at, ?, ? FROM runs WHERE id = ?
                    """,
                arguments: [newRunID, sequence, now, now, run.id])
            for entry in kept {
                var copy = entry
                copy.runID = newRunID
                try Self.upsert(db, entry: copy, epoch: 0)
            }
            return try Self.requireRun(db, id: newRunID)
        }
    }
}
