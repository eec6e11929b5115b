import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Logging
import PostgresNIO
import Testing

/// A zombie's write against another worker's claim, interleaved deterministically on two
/// connections: the claim is made in an open transaction, the zombie's write is started and seen
/// waiting for the claim's row lock (or finished, if it takes none), then the claim commits. Every
/// run-state write of the zombie must be refused as `leaseLost` and leave the claim in place.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresFencingTests {
    struct Write: Sendable, CustomTestStringConvertible {
        let name: String
        let perform: @Sendable (PostgresRunStore, Lease) async throws -> Void
        var testDescription: String { name }
    }

    static let writes: [Write] = [
        Write(name: "finish") { store, lease in try await store.finish(lease, status: .completed, output: "zombie", failure: nil) },
        Write(name: "finish as failed") { store, lease in
            try await store.finish(lease, status: .failed, output: nil, failure: RunFailure(code: "workflow_error", message: "zombie"))
        },
        Write(name: "suspend") { store, lease in try await store.suspend(lease, wakeAt: Date().addingTimeInterval(60), waitingFor: []) },
        Write(name: "release") { store, lease in try await store.release(lease) },
        Write(name: "append") { store, lease in
            try await store.append(JournalEntry(runID: lease.runID, sequence: 0, name: "s", kind: .custom, status: .completed, result: 1, startedAt: Date()), lease: lease)
        },
        Write(name: "request an approval") { store, lease in
            _ = try await store.requestApproval(
                ApprovalRequest(id: "zombie-approval", kind: .toolCall, runID: lease.runID, sequence: 0, tool: "t", arguments: "{}", reason: "r"), lease: lease)
        },
        Write(name: "close an approval") { store, lease in try await store.closeApproval(id: "open-approval", as: .expired, lease: lease) },
        Write(name: "take a signal") { store, lease in
            let entry = JournalEntry(runID: lease.runID, sequence: 0, name: "go", kind: .signal, status: .completed, startedAt: Date(), completedAt: Date())
            _ = try await store.takeSignal(runID: lease.runID, name: "go", journaling: entry, lease: lease)
        },
    ]

    @Test(arguments: writes)
    func aZombieWriteNeverCommitsAfterAClaim(_ write: Write) async throws {
        let (store, url) = try await freshStore()
        defer { Task { await store.close() } }
        _ = try await store.createRun(NewRun(id: "r", workflow: "w", input: nil))
        guard case .claimed(let zombie, _) = try await store.claim(runID: "r", owner: RunOwner(id: "zombie/host/1/aaaa"), leaseDuration: .seconds(30)) else {
            Issue.record("not claimed")
            return
        }
        // Something for the approval and signal writes to act on.
        _ = try await store.requestApproval(
            ApprovalRequest(id: "open-approval", kind: .toolCall, runID: "r", sequence: 0, tool: "t", arguments: "{}", reason: "r"), lease: zombie)
        try await store.signal(runID: "r", name: "go", payload: 1)

        let claimer = try await Self.connect(url)
        let observer = try await Self.connect(url)
        try await claimer.query("BEGIN", logger: Self.logger)
        try await claimer.query(
            """
            UPDATE keel_runs SET epoch = epoch + 1, owner = 'rightful/host/2/bbbb',
                lease_expires_at = EXTRACT(EPOCH FROM clock_timestamp()) + 30 WHERE id = 'r'
            """, logger: Self.logger)

        let zombieWrite = Task { try await write.perform(store, zombie) }
        // The zombie's write either waits for the claim's row lock or is done.
        let deadline = ContinuousClock.now + .seconds(10)
        var waited = false
        while ContinuousClock.now < deadline {
            let waiting = try await observer.query(
                "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", logger: Self.logger
            ).collect().first?.decode(Int.self) ?? 0
            if waiting > 0 { waited = true; break }
            try await Task.sleep(for: .milliseconds(10))
        }
        try await claimer.query("COMMIT", logger: Self.logger)
        await #expect {
            try await zombieWrite.value
        } throws: { error in
            (error as? StoreError)?.code == .leaseLost
        }
        #expect(waited, "a fenced write waits for the claim's lock")

        let run = try #require(try await store.run(id: "r"))
        #expect(run.status == .running)
        #expect(run.owner == "rightful/host/2/bbbb")
        #expect(run.epoch == zombie.epoch + 1)
        #expect(try await store.journal(runID: "r").isEmpty)
        #expect(try await store.approval(id: "zombie-approval") == nil)
        #expect(try await store.approval(id: "open-approval")?.status == .pending)
        #expect(try await store.deadLetters(includeResolved: true, limit: 5).isEmpty)
        try await claimer.close()
        try await observer.close()
    }

    static let logger = Logger(label: "keel.tests.fencing")

    static func connect(_ url: String) async throws -> PostgresConnection {
        let settings = try PostgresRunStore.Configuration(url: url)
        return try await PostgresConnection.connect(
            configuration: .init(
                host: settings.host, port: settings.port, username: settings.username, password: settings.password, database: settings.database,
                tls: .disable),
            id: 1, logger: logger)
    }
}
