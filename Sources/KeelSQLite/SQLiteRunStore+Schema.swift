import GRDB
import KeelRuntime

extension SQLiteRunStore {
    /// The versioned migrations. Never edit a shipped one: add the next.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 runs, journal, signals") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY NOT NULL,
                    workflow TEXT NOT NULL,
                    input TEXT NOT NULL,
                    status TEXT NOT NULL,
                    output TEXT,
                    failure TEXT,
                    wake_at REAL,
                    waiting_for TEXT,
                    owner TEXT,
                    lease_expires_at REAL,
                    epoch INTEGER NOT NULL DEFAULT 0,
                    parent_run_id TEXT,
                    forked_at INTEGER,
                    tenant TEXT,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX runs_by_status ON runs(status, wake_at);
                CREATE INDEX runs_by_created ON runs(created_at);
                CREATE TABLE journal (
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    sequence INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    status TEXT NOT NULL,
                    result TEXT,
                    idempotency_key TEXT,
                    side_effecting INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 1,
                    model TEXT,
                    input_tokens INTEGER,
                    cached_input_tokens INTEGER,
                    output_tokens INTEGER,
                    reasoning_tokens INTEGER,
                    wake_at REAL,
                    started_at REAL NOT NULL,
                    completed_at REAL,
                    epoch INTEGER NOT NULL,
                    PRIMARY KEY (run_id, sequence)
                );
                CREATE TABLE signals (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    consumed_sequence INTEGER
                );
                CREATE INDEX signals_pending ON signals(run_id, name, consumed_sequence);
                """)
        }
        migrator.registerMigration("v2 costs, deadlines, dead letters, spend ledger") { db in
            try db.execute(sql: """
                ALTER TABLE runs ADD COLUMN deadline_at REAL;
                ALTER TABLE journal ADD COLUMN cost_usd REAL;
                CREATE INDEX journal_metered ON journal(completed_at) WHERE model IS NOT NULL;
                CREATE INDEX runs_by_tenant ON runs(tenant);
                CREATE TABLE dead_letters (
                    run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    failure TEXT NOT NULL,
                    journal_length INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    resolved_at REAL
                );
                CREATE TABLE spend_reservations (
                    id TEXT PRIMARY KEY NOT NULL,
                    scope TEXT NOT NULL,
                    tokens INTEGER NOT NULL,
                    cost_usd REAL NOT NULL,
                    expires_at REAL NOT NULL
                );
                CREATE INDEX spend_reservations_by_scope ON spend_reservations(scope, expires_at);
                CREATE TABLE spend_settled (
                    scope TEXT PRIMARY KEY NOT NULL,
                    tokens INTEGER NOT NULL,
                    cost_usd REAL NOT NULL
                );
                CREATE TABLE spend_alerts (
                    scope TEXT NOT NULL,
                    threshold REAL NOT NULL,
                    fired_at REAL NOT NULL,
                    PRIMARY KEY (scope, threshold)
                );
                """)
        }
        migrator.registerMigration("v3 approvals, audit log, tool quotas") { db in
            try db.execute(sql: """
                CREATE TABLE approvals (
                    id TEXT PRIMARY KEY NOT NULL,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    sequence INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    tool TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    requested_at REAL NOT NULL,
                    expires_at REAL,
                    on_timeout TEXT NOT NULL,
                    status TEXT NOT NULL,
                    decision TEXT,
                    decided_by TEXT,
                    decided_at REAL
                );
                CREATE INDEX approvals_by_run ON approvals(run_id, status);
                CREATE TABLE audit (
                    sequence INTEGER PRIMARY KEY NOT NULL,
                    time_us INTEGER NOT NULL,
                    run_id TEXT,
                    step INTEGER,
                    tool TEXT,
                    action TEXT NOT NULL,
                    arguments_digest TEXT,
                    decision TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    outcome TEXT,
                    cost_usd REAL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX audit_by_run ON audit(run_id);
                CREATE TABLE audit_head (
                    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                    sequence INTEGER NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TABLE quotas (
                    key TEXT PRIMARY KEY NOT NULL,
                    used INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4 audit head from the start") { db in
            // The head exists from the start, so a log emptied together with its head does not
            // pass for a new one; and it cannot be deleted.
            try db.execute(sql: """
                INSERT OR IGNORE INTO audit_head (id, sequence, hash) VALUES (1, 0, '\(AuditEntry.genesis)');
                CREATE TRIGGER audit_head_kept BEFORE DELETE ON audit_head BEGIN SELECT RAISE(ABORT, 'the head of the audit log cannot be deleted'); END;
                """)
        }
        migrator.registerMigration("v5 recoveries") { db in
            // Takeovers from stopped workers since the run's last finished step: too many in a row
            // quarantine it.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v6 signal idempotency keys") { db in
            try db.execute(sql: """
                ALTER TABLE signals ADD COLUMN idempotency_key TEXT;
                CREATE UNIQUE INDEX signals_key ON signals(run_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
                """)
        }
        migrator.registerMigration("v7 scoped steps") { db in
            // A step's address is its scope and its position there: the key grows a column,
            // which in SQLite means a new table.
            try db.execute(sql: """
                CREATE TABLE journal_v7 (
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    scope TEXT NOT NULL DEFAULT '',
                    sequence INTEGER NOT NULL,
                    scope_anchor INTEGER NOT NULL DEFAULT 0,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    status TEXT NOT NULL,
                    result TEXT,
                    idempotency_key TEXT,
                    side_effecting INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 1,
                    model TEXT,
                    input_tokens INTEGER,
                    cached_input_tokens INTEGER,
                    output_tokens INTEGER,
                    reasoning_tokens INTEGER,
                    cost_usd REAL,
                    wake_at REAL,
                    started_at REAL NOT NULL,
                    completed_at REAL,
                    epoch INTEGER NOT NULL,
                    PRIMARY KEY (run_id, scope, sequence)
                );
                INSERT INTO journal_v7 (
                    run_id, sequence, name, kind, status, result, idempotency_key, side_effecting, attempts, model, input_tokens,
                    cached_input_tokens, output_tokens, reasoning_tokens, cost_usd, wake_at, started_at, completed_at, epoch)
                SELECT
                    run_id, sequence, name, kind, status, result, idempotency_key, side_effecting, attempts, model, input_tokens,
                    cached_input_tokens, output_tokens, reasoning_tokens, cost_usd, wake_at, started_at, completed_at, epoch
                FROM journal;
                DROP TABLE journal;
                ALTER TABLE journal_v7 RENAME TO journal;
                CREATE INDEX journal_metered ON journal(completed_at) WHERE model IS NOT NULL;
                """)
        }
        migrator.registerMigration("v8 cache writes, estimated usage") { db in
            try db.execute(sql: """
                ALTER TABLE journal ADD COLUMN cache_write_tokens INTEGER;
                ALTER TABLE journal ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v9 API keys") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    tenant TEXT NOT NULL,
                    role TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL,
                    revoked_at REAL,
                    UNIQUE (tenant, name)
                );
                """)
        }
        // Each write to a run's journal gets the next number of that run: the order in which a
        // follower of the journal sees the steps, and where it resumes.
        migrator.registerMigration("v10 journal commit numbers") { db in
            try db.execute(sql: """
                ALTER TABLE journal ADD COLUMN commit_number INTEGER NOT NULL DEFAULT 0;
                UPDATE journal SET commit_number = numbered.n FROM (
                    SELECT run_id, scope, sequence, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY started_at, scope, sequence) AS n FROM journal
                ) AS numbered
                WHERE journal.run_id = numbered.run_id AND journal.scope = numbered.scope AND journal.sequence = numbered.sequence;
                CREATE INDEX journal_by_commit ON journal(run_id, commit_number);
                """)
        }
        migrator.registerMigration("v11 semantic memory") { db in
            try db.execute(sql: """
                CREATE TABLE memory_vectors (
                    tenant TEXT NOT NULL,
                    user TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    id TEXT NOT NULL,
                    text TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    dimensions INTEGER NOT NULL,
                    vector BLOB NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE UNIQUE INDEX memory_vectors_by_id ON memory_vectors(tenant, user, agent, id);
                CREATE TABLE memory_facts (
                    tenant TEXT NOT NULL,
                    user TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    key TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    value TEXT,
                    set_at REAL NOT NULL,
                    expires_at REAL,
                    PRIMARY KEY (tenant, user, agent, key, version)
                );
                """)
        }
        migrator.registerMigration("v12 sessions") { db in
            try db.execute(sql: """
                CREATE TABLE memory_sessions (
                    tenant TEXT NOT NULL,
                    user TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    id TEXT NOT NULL,
                    session TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (tenant, user, agent, id)
                );
                """)
        }
        return migrator
    }
}
