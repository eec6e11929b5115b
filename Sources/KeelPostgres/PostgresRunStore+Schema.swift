import Foundation
import KeelCore
import KeelRuntime
import PostgresNIO

extension PostgresRunStore {
    /// A versioned migration: statements run in one transaction. Never edit a shipped one: add
    /// the next.
    struct Migration {
        let id: String
        let statements: [String]
    }

    /// Every table is prefixed `keel_`, so Keel can share a database with the application.
    static let migrations: [Migration] = [
        Migration(id: "v1 runs, journal, signals, dead letters, spend ledger", statements: [
            """
            CREATE TABLE keel_runs (
                id TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                input TEXT NOT NULL,
                status TEXT NOT NULL,
                output TEXT,
                failure TEXT,
                wake_at DOUBLE PRECISION,
                waiting_for TEXT,
                owner TEXT,
                lease_expires_at DOUBLE PRECISION,
                epoch BIGINT NOT NULL DEFAULT 0,
                parent_run_id TEXT,
                forked_at BIGINT,
                tenant TEXT,
                deadline_at DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX keel_runs_runnable ON keel_runs (updated_at, id) WHERE status IN ('pending', 'waiting', 'running')",
            "CREATE INDEX keel_runs_by_created ON keel_runs (created_at)",
            "CREATE INDEX keel_runs_by_tenant ON keel_runs (tenant)",
            """
            CREATE TABLE keel_journal (
                run_id TEXT NOT NULL REFERENCES keel_runs(id) ON DELETE CASCADE,
                sequence BIGINT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                result TEXT,
                idempotency_key TEXT,
                side_effecting BOOLEAN NOT NULL DEFAULT FALSE,
                attempts BIGINT NOT NULL DEFAULT 1,
                model TEXT,
                input_tokens BIGINT,
                cached_input_tokens BIGINT,
                output_tokens BIGINT,
                reasoning_tokens BIGINT,
                cost_usd DOUBLE PRECISION,
                wake_at DOUBLE PRECISION,
                started_at DOUBLE PRECISION NOT NULL,
                completed_at DOUBLE PRECISION,
                epoch BIGINT NOT NULL,
                PRIMARY KEY (run_id, sequence)
            )
            """,
            "CREATE INDEX keel_journal_metered ON keel_journal (completed_at) WHERE model IS NOT NULL",
            """
            CREATE TABLE keel_signals (
                id BIGSERIAL PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES keel_runs(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                consumed_sequence BIGINT
            )
            """,
            "CREATE INDEX keel_signals_pending ON keel_signals (run_id, name) WHERE consumed_sequence IS NULL",
            """
            CREATE TABLE keel_dead_letters (
                run_id TEXT PRIMARY KEY REFERENCES keel_runs(id) ON DELETE CASCADE,
                failure TEXT NOT NULL,
                journal_length BIGINT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                resolved_at DOUBLE PRECISION
            )
            """,
            """
            CREATE TABLE keel_spend_reservations (
                id TEXT PRIMARY KEY,
                scope TEXT NOT NULL,
                tokens BIGINT NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX keel_spend_reservations_by_scope ON keel_spend_reservations (scope, expires_at)",
            "CREATE TABLE keel_spend_settled (scope TEXT PRIMARY KEY, tokens BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE keel_spend_alerts (
                scope TEXT NOT NULL, threshold DOUBLE PRECISION NOT NULL, fired_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, threshold)
            )
            """,
            "CREATE TABLE keel_quotas (key TEXT PRIMARY KEY, used BIGINT NOT NULL)",
        ]),
        Migration(id: "v2 approvals, audit log", statements: [
            """
            CREATE TABLE keel_approvals (
                id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES keel_runs(id) ON DELETE CASCADE,
                sequence BIGINT NOT NULL,
                kind TEXT NOT NULL,
                tool TEXT NOT NULL,
                arguments TEXT NOT NULL,
                reason TEXT NOT NULL,
                requested_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION,
                on_timeout TEXT NOT NULL,
                status TEXT NOT NULL,
                decision TEXT,
                decided_by TEXT,
                decided_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX keel_approvals_by_run ON keel_approvals (run_id, status)",
            """
            CREATE TABLE keel_audit (
                sequence BIGINT PRIMARY KEY,
                time_us BIGINT NOT NULL,
                run_id TEXT,
                step BIGINT,
                tool TEXT,
                action TEXT NOT NULL,
                arguments_digest TEXT,
                decision TEXT NOT NULL,
                actor TEXT NOT NULL,
                outcome TEXT,
                cost_usd DOUBLE PRECISION,
                previous_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )
            """,
            "CREATE INDEX keel_audit_by_run ON keel_audit (run_id)",
            "CREATE TABLE keel_audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), sequence BIGINT NOT NULL, hash TEXT NOT NULL)",
            """
            CREATE FUNCTION keel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the audit log is append-only';
            END
            $$
            """,
            "CREATE TRIGGER keel_audit_append_only BEFORE UPDATE OR DELETE ON keel_audit FOR EACH ROW EXECUTE FUNCTION keel_audit_append_only()",
        ]),
        Migration(id: "v3 shared rate-limit buckets", statements: [
            """
            CREATE TABLE keel_rate_buckets (
                key TEXT PRIMARY KEY,
                requests_level DOUBLE PRECISION NOT NULL,
                tokens_level DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                paused_until DOUBLE PRECISION NOT NULL
            )
            """,
        ]),
        Migration(id: "v4 audit head from the start, no truncation", statements: [
            // The head exists from the start, so a log emptied together with its head does not
            // pass for a new one; neither table can be truncated (which skips row triggers), and
            // the head cannot be deleted.
            "INSERT INTO keel_audit_head (id, sequence, hash) VALUES (1, 0, '\(AuditEntry.genesis)') ON CONFLICT (id) DO NOTHING",
            "CREATE TRIGGER keel_audit_no_truncate BEFORE TRUNCATE ON keel_audit FOR EACH STATEMENT EXECUTE FUNCTION keel_audit_append_only()",
            """
            CREATE TRIGGER keel_audit_head_kept BEFORE DELETE OR TRUNCATE ON keel_audit_head
            FOR EACH STATEMENT EXECUTE FUNCTION keel_audit_append_only()
            """,
        ]),
        Migration(id: "v5 recoveries", statements: [
            // Takeovers from stopped workers since the run's last finished step: too many in a row
            // quarantine it.
            "ALTER TABLE keel_runs ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0",
        ]),
        Migration(id: "v6 signal idempotency keys", statements: [
            "ALTER TABLE keel_signals ADD COLUMN idempotency_key TEXT",
            "CREATE UNIQUE INDEX keel_signals_key ON keel_signals (run_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
        ]),
        Migration(id: "v7 scoped steps", statements: [
            // A step's address is its scope and its position there.
            "ALTER TABLE keel_journal ADD COLUMN scope TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE keel_journal ADD COLUMN scope_anchor BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE keel_journal DROP CONSTRAINT keel_journal_pkey",
            "ALTER TABLE keel_journal ADD PRIMARY KEY (run_id, scope, sequence)",
        ]),
        Migration(id: "v8 cache writes, estimated usage", statements: [
            "ALTER TABLE keel_journal ADD COLUMN cache_write_tokens BIGINT",
            "ALTER TABLE keel_journal ADD COLUMN usage_estimated BOOLEAN NOT NULL DEFAULT FALSE",
        ]),
        Migration(id: "v9 API keys", statements: [
            """
            CREATE TABLE keel_api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                tenant TEXT NOT NULL,
                role TEXT NOT NULL,
                hash TEXT NOT NULL UNIQUE,
                created_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION,
                UNIQUE (tenant, name)
            )
            """,
        ]),
        // Each write to a run's journal gets the next number of that run (kept on the run, whose
        // row the write locks): the order in which a follower of the journal sees the steps.
        Migration(id: "v10 journal commit numbers", statements: [
            "ALTER TABLE keel_journal ADD COLUMN commit_number BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE keel_runs ADD COLUMN journal_commits BIGINT NOT NULL DEFAULT 0",
            """
            UPDATE keel_journal SET commit_number = numbered.n FROM (
                SELECT run_id, scope, sequence, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY started_at, scope, sequence) AS n FROM keel_journal
            ) AS numbered
            WHERE keel_journal.run_id = numbered.run_id AND keel_journal.scope = numbered.scope AND keel_journal.sequence = numbered.sequence
            """,
            "UPDATE keel_runs SET journal_commits = (SELECT COUNT(*) FROM keel_journal WHERE keel_journal.run_id = keel_runs.id)",
            "CREATE INDEX keel_journal_by_commit ON keel_journal (run_id, commit_number)",
        ]),
        // Semantic memory (float32 vectors as bytea, searched exactly) and versioned facts.
        Migration(id: "v11 semantic memory and facts", statements: [
            """
            CREATE TABLE keel_memory_vectors (
                tenant TEXT NOT NULL,
                "user" TEXT NOT NULL,
                agent TEXT NOT NULL,
                id TEXT NOT NULL,
                text TEXT NOT NULL,
                metadata JSONB NOT NULL,
                dimensions INTEGER NOT NULL,
                vector BYTEA NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (tenant, "user", agent, id)
            )
            """,
            """
            CREATE TABLE keel_memory_facts (
                tenant TEXT NOT NULL,
                "user" TEXT NOT NULL,
                agent TEXT NOT NULL,
                key TEXT NOT NULL,
                version INTEGER NOT NULL,
                value TEXT,
                set_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION,
                PRIMARY KEY (tenant, "user", agent, key, version)
            )
            """,
        ]),
        Migration(id: "v12 sessions", statements: [
            """
            CREATE TABLE keel_memory_sessions (
                tenant TEXT NOT NULL,
                "user" TEXT NOT NULL,
                agent TEXT NOT NULL,
                id TEXT NOT NULL,
                session TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (tenant, "user", agent, id)
            )
            """,
        ]),
    ]

    /// Serializes the migrations of workers that connect at once.
    static let migrationLock: Int64 = 0x6B65_656C_0001

    /// Applies the migrations this database lacks, in one transaction under an advisory lock;
    /// refuses a database that a newer Keel migrated.
    func migrate() async throws {
        let logger = self.logger
        try await write { connection in
            try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.rows(
                "CREATE TABLE IF NOT EXISTS keel_migrations (id TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", logger: logger)
            let applied = Set(try await connection.rows("SELECT id FROM keel_migrations", logger: logger).map { try Columns($0)("id") as String })
            let known = Set(Self.migrations.map(\.id))
            let unknown = applied.subtracting(known)
            if !unknown.isEmpty {
                throw StoreError(
                    .newerSchema,
                    "\(self.configuration.displayURL) was written by a newer Keel (it has schema \(unknown.sorted().joined(separator: ", "))); upgrade keel to use it")
            }
            for migration in Self.migrations where !applied.contains(migration.id) {
                for statement in migration.statements {
                    try await connection.rows(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.rows(
                    "INSERT INTO keel_migrations (id, applied_at) VALUES (\(migration.id), \(Date().timeIntervalSince1970))", logger: logger)
            }
        }
    }
}
