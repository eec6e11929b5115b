import Foundation
import KeelCore
import KeelTestSupport
import Testing

/// `keel serve --workers 1`: an agent run started over the API waits for an approval, is approved
/// over the API under the key's name, and completes in the server's own worker; SIGTERM stops it.
@Suite(.timeLimit(.minutes(3))) struct ServeCommandTests {
    @Test func aRunStartedOverTheAPIIsApprovedOverItAndCompletes() async throws {
        let work = try TemporaryFolder.make("keel-serve")
        let db = work.appendingPathComponent("keel.db").path
        let made = try await KeelProcess.run(["keys", "create", "--db", db, "--tenant", "acme", "--name", "ops", "--role", "operator"], killAfter: nil, directory: work)
        #expect(made.status == 0, "\(made.stderr)")
        let key = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.hasPrefix("keel_") && key.count == 82, "\(key)")
        let listed = try await KeelProcess.run(["keys", "list", "--db", db], killAfter: nil, directory: work)
        #expect(listed.stdout.contains("acme  ops  operator") && !listed.stdout.contains(key), "the key is never shown again: \(listed.stdout)")

        let server = try BackgroundKeel(["serve", "--db", db, "--port", "0", "--workers", "1"], log: work.appendingPathComponent("serve.log"))
        let started = ContinuousClock.now
        let api = LoopbackHTTP(baseURL: "http://127.0.0.1:\(try await server.port(after: "listening on"))")

        let start = try await api.request(
            .POST, "/v1/runs", key: key,
            json: #"{"workflow":"agent","input":{"prompt":"What is 6 times 7?","toolsets":["calculator"],"model":{"spec":"arithmetic"},"approvals":{"tools":["multiply"],"onTimeout":"deny"}}}"#)
        #expect(start.status == 201, "\(start)")
        let id = try #require(start.json?["id"]?.stringValue)

        // The server's worker runs it until the call waits for a person.
        var pending: [JSONValue] = []
        while pending.isEmpty, ContinuousClock.now - started < .seconds(60) {
            pending = try await api.request(.GET, "/v1/approvals?status=pending", key: key).json?["approvals"]?.arrayValue ?? []
            try await Task.sleep(for: .milliseconds(50))
        }
        let approval = try #require(pending.first, "\(server.output)")
        #expect(approval["tool"] == "multiply" && approval["run_id"]?.stringValue == id)
        let approvalID = try #require(approval["id"]?.stringValue)
        let decided = try await api.request(.POST, "/v1/approvals/\(approvalID)/approve", key: key, json: "{}")
        #expect(decided.status == 200 && decided.json?["decided_by"] == "ops", "\(decided)")

        var run = try await api.request(.GET, "/v1/runs/\(id)", key: key)
        while run.json?["run"]?["status"] != "completed", ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(50))
            run = try await api.request(.GET, "/v1/runs/\(id)", key: key)
        }
        #expect(run.json?["run"]?["status"] == "completed", "\(run) \(server.output)")
        #expect(run.json?["output"]?["outcome"]?["completed"]?["answer"]?.stringValue?.contains("42") == true, "\(run)")
        let steps = run.json?["steps"]?.arrayValue ?? []
        #expect(steps.contains { $0["kind"] == "model" && $0["usage"]?["input_tokens"]?.intValue ?? 0 > 0 }, "\(steps)")
        #expect(steps.contains { $0["kind"] == "tool" && $0["status"] == "completed" })
        #expect(try await api.request(.GET, "/metrics").body.contains("keel_model_calls_total"))
        try await api.shutdown()
        #expect(await server.terminate(timeout: .seconds(20)) == 0, "\(server.output)")
        #expect(server.output.contains("stopped"))
    }
}
