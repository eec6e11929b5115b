import Foundation
import GRDB
import KeelRuntime
import KeelSQLite
import Testing

/// What the store does with files it did not write, files from the future, and locks.
@Suite(.timeLimit(.minutes(5))) struct SQLiteStoreFileTests {
    @Test func aFileThatIsNotAStoreIsAClearError() throws {
        let path = try temporaryStorePath()
        try Data("this is a shopping list, not a database\n".utf8 + Array(repeating: 0x41, count: 4096)).write(to: URL(fileURLWithPath: path))
        do {
            _ = try SQLiteRunStore(path: path)
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.code == .corrupt)
            #expect(error.message.contains("is not a usable Keel store"))
        }
        // Nothing was written over it.
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("this is a shopping list"))
    }

    /// Opening from async code happens on a thread of its own; what it opens, or why it cannot,
    /// comes back as from the initialiser.
    @Test func anAsyncOpenGivesTheStoreOrItsError() async throws {
        let path = try temporaryStorePath()
        let store = try await SQLiteRunStore.open(path: path)
        _ = try await store.createRun(NewRun(id: "r", workflow: "w", input: 1))
        #expect(try await SQLiteRunStore.open(path: path).run(id: "r")?.input == 1)
        let notAStore = try temporaryStorePath("list.db")
        try Data("not a database".utf8 + Array(repeating: 0x41, count: 4096)).write(to: URL(fileURLWithPath: notAStore))
        await #expect {
            _ = try await SQLiteRunStore.open(path: notAStore)
        } throws: { error in
            (error as? StoreError)?.code == .corrupt
        }
    }

    @Test func aStoreFromANewerKeelIsRefusedBeforeAnyWrite() throws {
        let path = try temporaryStorePath()
        _ = try SQLiteRunStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99 from the future')") }
        do {
            _ = try SQLiteRunStore(path: path)
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.code == .newerSchema)
            #expect(error.message.contains("newer Keel"))
        }
    }

    @Test func aStoreLockedPastTheTimeoutIsAClearError() async throws {
        let path = try temporaryStorePath()
        var configuration = SQLiteRunStore.Configuration()
        configuration.busyTimeout = .milliseconds(200)
        let store = try SQLiteRunStore(path: path, configuration: configuration)
        var holderConfiguration = GRDB.Configuration()
        holderConfiguration.allowsUnsafeTransactions = true  // it holds the lock across accesses on purpose
        let holder = try DatabaseQueue(path: path, configuration: holderConfiguration)
        try await holder.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN EXCLUSIVE")
            try db.execute(sql: "INSERT INTO runs (id, workflow, input, status, created_at, updated_at) VALUES ('held', 'w', 'null', 'pending', 0, 0)")
        }
        let start = ContinuousClock.now
        await #expect {
            _ = try await store.createRun(NewRun(id: "blocked", workflow: "w", input: nil))
        } throws: { error in
            (error as? StoreError)?.code == .locked
        }
        #expect(ContinuousClock.now - start >= .milliseconds(150))  // it waited for the lock first
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        _ = try await store.createRun(NewRun(id: "after", workflow: "w", input: nil))
    }

    @Test func walWithNormalOrFullSynchronous() throws {
        let normal = try SQLiteRunStore(path: try temporaryStorePath())
        #expect(try normal.synchronousSetting() == 1)
        var configuration = SQLiteRunStore.Configuration()
        configuration.synchronous = .full
        let full = try SQLiteRunStore(path: try temporaryStorePath(), configuration: configuration)
        #expect(try full.synchronousSetting() == 2)
        let mode = try DatabaseQueue(path: normal.path).read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func aCorruptRowIsAClearErrorNotACrash() async throws {
        let path = try temporaryStorePath()
        let store = try SQLiteRunStore(path: path)
        _ = try await store.createRun(NewRun(id: "bad", workflow: "w", input: ["ok": true]))
        try await DatabaseQueue(path: path).write { db in try db.execute(sql: "UPDATE runs SET input = '{not json' WHERE id = 'bad'") }
        await #expect {
            _ = try await store.run(id: "bad")
        } throws: { error in
            (error as? StoreError)?.code == .corrupt
        }
    }

    /// GRDB's row subscript traps on a value of the wrong type; every column Keel reads is read
    /// with the throwing decoders, so a hand-edited or corrupt row is a `corrupt` error that names
    /// the column, and the process lives on.
    @Test(arguments: [
        "UPDATE runs SET epoch = 'abc' WHERE id = 'bad'",
        "UPDATE runs SET workflow = x'ff00ff' WHERE id = 'bad'",
        "UPDATE runs SET created_at = 'yesterday' WHERE id = 'bad'",
        "UPDATE journal SET sequence = 'first' WHERE run_id = 'bad'",
        "UPDATE journal SET side_effecting = 'maybe' WHERE run_id = 'bad'",
        "UPDATE journal SET input_tokens = 'lots', model = 'm' WHERE run_id = 'bad'",
        "INSERT INTO approvals VALUES ('a1', 'bad', 'one', 'tool_call', 't', '{}', 'r', 0, NULL, 'deny', 'pending', NULL, NULL, NULL)",
        "INSERT INTO spend_settled VALUES ('tenant:acme:2026-11-30', 'many', 0)",
        "INSERT INTO dead_letters (run_id, failure, journal_length, created_at) VALUES ('bad', '{}', 'long', 0)",
        "UPDATE runs SET owner = x'ff' WHERE id = 'bad'",
    ])
    func aValueOfTheWrongTypeIsAClearErrorNotACrash(corruption: String) async throws {
        let path = try temporaryStorePath()
        let store = try SQLiteRunStore(path: path)
        _ = try await store.createRun(NewRun(id: "bad", workflow: "w", input: ["ok": true]))
        guard case .claimed(let lease, _) = try await store.claim(runID: "bad", owner: RunOwner(id: "tester/h/1/abcd"), leaseDuration: .seconds(30)) else {
            Issue.record("the run was not claimed")
            return
        }
        try await store.append(JournalEntry(runID: "bad", sequence: 0, name: "s", kind: .custom, status: .completed, result: 1, startedAt: Date()), lease: lease)
        try await DatabaseQueue(path: path).write { db in try db.execute(sql: corruption) }

        var errors: [StoreError] = []
        func attempt(_ body: () async throws -> Void) async {
            do { try await body() } catch let error as StoreError { errors.append(error) } catch { Issue.record("not a StoreError: \(error)") }
        }
        await attempt { _ = try await store.run(id: "bad") }
        await attempt { _ = try await store.listRuns(RunQuery()) }
        await attempt { _ = try await store.journal(runID: "bad") }
        await attempt { _ = try await store.approvals(runID: "bad", status: nil) }
        await attempt { _ = try await store.spent(in: .tenantDay(tenant: "acme", day: "2026-11-30")) }
        await attempt { _ = try await store.deadLetters(includeResolved: true, limit: 10) }
        #expect(!errors.isEmpty, "some read must meet the corrupt value")
        for error in errors {
            #expect(error.code == .corrupt, "\(error)")
            #expect(!error.message.isEmpty)
        }
    }

    /// The audit log's head exists from the start: a log emptied together with its head is not
    /// taken for a new one, and the head cannot be deleted without dropping a trigger first.
    @Test func anAuditLogWithoutItsHeadIsNotIntact() async throws {
        let path = try temporaryStorePath()
        let store = try SQLiteRunStore(path: path)
        #expect(try await store.verifyAuditLog().isIntact, "a new, empty log is intact")
        let queue = try DatabaseQueue(path: path)
        await #expect(throws: (any Error).self) { try await queue.write { db in try db.execute(sql: "DELETE FROM audit_head") } }
        try await queue.write { db in try db.execute(sql: "DROP TRIGGER audit_head_kept; DELETE FROM audit_head") }
        let verification = try await store.verifyAuditLog()
        #expect(!verification.isIntact)
        #expect(verification.problem?.contains("head") == true)
    }
}
