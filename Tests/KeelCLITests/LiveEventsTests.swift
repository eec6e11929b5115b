import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import Testing

/// `GET /v1/runs/{id}/events` of `keel serve`, while a separate `keel worker` process runs the
/// run: a client that disconnects and reconnects with Last-Event-ID misses no step and sees none
/// twice.
@Suite(.timeLimit(.minutes(3))) struct LiveEventsTests {
    @Test func aReconnectingClientMissesNoStepAndSeesNoneTwice() async throws {
        let work = try TemporaryFolder.make("keel-events")
        let db = work.appendingPathComponent("keel.db").path
        let made = try await KeelProcess.run(["keys", "create", "--db", db, "--tenant", "acme", "--name", "dash"], killAfter: nil, directory: work)
        let viewer = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let operatorKey = try await KeelProcess.run(
            ["keys", "create", "--db", db, "--tenant", "acme", "--name", "ops", "--role", "operator"], killAfter: nil, directory: work
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let server = try BackgroundKeel(["serve", "--db", db, "--port", "0"], log: work.appendingPathComponent("serve.log"))
        let api = LoopbackHTTP(baseURL: "http://127.0.0.1:\(try await server.port(after: "listening on"))")
        // Twelve sections, 120 ms apart: long enough to leave and come back mid-run.
        let start = try await api.request(
            .POST, "/v1/runs", key: operatorKey,
            json: #"{"workflow":"report","input":{"topic":"durable agents","sections":12,"contextTokens":400,"paceMilliseconds":120,"model":{"spec":"writer"}}}"#)
        #expect(start.status == 201, "\(start)")
        let id = try #require(start.json?["id"]?.stringValue)
        // The run is executed by another process, not the server.
        let worker = try BackgroundKeel(["worker", "--store", db, "--poll", "50ms"], log: work.appendingPathComponent("worker.log"))

        // Three steps, then the client goes away …
        var steps = 0
        let before = try await api.events("/v1/runs/\(id)/events", key: viewer) { event in
            if event.event == "step" { steps += 1 }
            return steps == 3 || event.event == "run"
        }
        let lastID = try #require(before.last?.id, "\(before)")
        try await Task.sleep(for: .milliseconds(400))  // steps are committed while it is away
        // … and comes back where it left off, until the run finishes.
        let after = try await api.events("/v1/runs/\(id)/events", key: viewer, lastEventID: lastID) { $0.event == "run" }
        #expect(after.last?.event == "run" && after.last?.data.contains(#""status":"completed""#) == true, "\(after.suffix(2)) \(worker.output)")

        let seen = (before + after).filter { $0.event == "step" }.compactMap { $0.id.flatMap(Int.init) }
        #expect(seen == seen.sorted() && Set(seen).count == seen.count, "in order, none twice: \(seen)")
        // Every write of the finished journal was seen (a step started and then completed is
        // seen at both writes; the journal keeps the last).
        let store = try SQLiteRunStore(path: db)
        let journal = try await store.journalChanges(runID: id, after: 0, limit: 1_000)
        #expect(journal.count >= 12, "\(journal.count)")
        #expect(Set(journal.map(\.commit)).isSubset(of: Set(seen)), "missed: \(Set(journal.map(\.commit)).subtracting(seen).sorted())")
        #expect(seen.last == journal.map(\.commit).max())
        // A stream of a finished run replays it and ends; another tenant's key or none gets nothing.
        let replay = try await api.events("/v1/runs/\(id)/events", key: viewer) { _ in false }
        #expect(replay.filter { $0.event == "step" }.compactMap { $0.id.flatMap(Int.init) } == journal.map(\.commit))
        #expect(try await api.request(.GET, "/v1/runs/\(id)/events").status == 401)
        #expect(try await api.request(.GET, "/v1/runs/\(id)/events?last_event_id=x", key: viewer).status == 400)

        // A stream held open on a run that waits ends when the server is told to stop.
        _ = try await api.request(.POST, "/v1/runs", key: operatorKey, json: #"{"workflow":"agent","input":{"prompt":"What is 6 times 7?","toolsets":["calculator"],"model":{"spec":"arithmetic"},"approvals":{"tools":["multiply"]}}}"#, headers: [("Idempotency-Key", "waits")])
        let waiting = try #require(try await api.request(.GET, "/v1/runs?workflow=agent", key: viewer).json?["runs"]?[0]?["id"]?.stringValue)
        #expect(await worker.terminate(timeout: .seconds(20)) == 0)
        let held = Task { try await api.events("/v1/runs/\(waiting)/events", key: viewer) { _ in false } }
        try await Task.sleep(for: .milliseconds(300))
        let stopping = ContinuousClock.now
        #expect(await server.terminate(timeout: .seconds(20)) == 0, "\(server.output)")
        #expect(ContinuousClock.now - stopping < .seconds(10), "the open stream did not hold the shutdown")
        _ = try? await held.value
        try await api.shutdown()
    }
}
