import GRDB

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
        return migrator
    }
}
