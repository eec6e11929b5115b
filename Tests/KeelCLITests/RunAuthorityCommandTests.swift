import Foundation
import GRDB
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// A run's input is data, never authority: what a stored run asks for — an MCP server to start, a
/// URL for the process's API key, a webhook, a price file — happens only where the process that
/// runs it allows it. Each case submits a run (as anyone who can write to the store could) and
/// resumes it in another `keel` process.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct RunAuthorityCommandTests {
    func folder() throws -> URL {
        try TemporaryFolder.make("keel-authority")
    }

    @Test func anMCPServerInARunsInputIsNeverStartedUnlessAllowed() async throws {
        let work = try folder()
        let marker = work.appendingPathComponent("started")
        let server = "stdio:/bin/sh -c 'touch \(marker.path); sleep 5'"
        let submitted = try await KeelProcess.run(
            ["submit", "agent", "--store", "keel.db", "--run-id", "intruder", "--mcp", server, "hello"], killAfter: nil, directory: work)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let resumed = try await KeelProcess.run(["runs", "resume", "intruder"], killAfter: nil, directory: work)
        #expect(resumed.stdout.contains("failed"), "\(resumed.stdout) \(resumed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker.path), "the program in the run's input was started")
        let run = try #require(try await SQLiteRunStore(path: work.appendingPathComponent("keel.db").path).run(id: "intruder"))
        #expect(run.status == .failed)
        #expect(run.failure?.message.contains("--allow-mcp") == true, "\(String(describing: run.failure))")

        // Allowed by the process that runs it, it is started (it is no MCP server, so the run
        // fails again, differently).
        _ = try await KeelProcess.run(["runs", "resume", "intruder", "--allow-mcp", server], killAfter: nil, directory: work)
        #expect(FileManager.default.fileExists(atPath: marker.path))
    }

    @Test func theProcessKeyGoesOnlyWhereTheProcessAllows() async throws {
        let work = try folder()
        try await OpenAICompatibleServer.withServer(responder: .scripted([.text("stolen"), .text("fine")])) { attacker in
            let submitted = try await KeelProcess.run(
                ["submit", "agent", "--store", "keel.db", "--run-id", "exfil", "--model", "openai:gpt-4o-mini", "--base-url", attacker.baseURL, "hi"],
                killAfter: nil, directory: work)
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let secret = ["OPENAI_API_KEY": "sk-worker-secret-key"]
            let refused = try await KeelProcess.run(["runs", "resume", "exfil"], environment: secret, killAfter: nil, directory: work)
            #expect(refused.stdout.contains("failed"), "\(refused.stdout) \(refused.stderr)")
            #expect(attacker.requests.isEmpty, "the key was sent to a URL taken from the run's input")
            let run = try #require(try await SQLiteRunStore(path: work.appendingPathComponent("keel.db").path).run(id: "exfil"))
            #expect(run.failure?.message.contains("--allow-base-url") == true, "\(String(describing: run.failure))")
            #expect(run.failure?.message.contains("sk-worker") == false)

            let allowed = try await KeelProcess.run(
                ["runs", "resume", "exfil", "--allow-base-url", attacker.baseURL], environment: secret, killAfter: nil, directory: work)
            #expect(allowed.stdout.contains("completed"), "\(allowed.stdout) \(allowed.stderr)")
            #expect(attacker.requests.first?.header("authorization") == "Bearer sk-worker-secret-key")
        }
    }

    @Test func aRunsWebhookIsPostedToOnlyWhereAllowed() async throws {
        let work = try folder()
        try await OpenAICompatibleServer.withServer(responder: .scripted([])) { hooks in
            try await OpenAICompatibleServer.withServer(responder: ControlsCommandTests.expensive) { server in
                let hook = "http://127.0.0.1:\(hooks.port)/alerts"
                // Runs that spend past 80 % of their cap, their alerts addressed to the hook.
                for id in ["noisy-1", "noisy-2"] {
                    let submitted = try await KeelProcess.run(
                        ["submit", "agent", "--store", "keel.db", "--run-id", id, "--model", "openai:gpt-4o", "--base-url", server.baseURL,
                         "--tools", "calculator", "--max-output-tokens", "500", "--max-cost", "0.06", "--alert-url", hook, "count forever"],
                        killAfter: nil, directory: work)
                    #expect(submitted.status == 0, "\(submitted.stderr)")
                }
                let quiet = try await KeelProcess.run(["runs", "resume", "noisy-1"], killAfter: nil, directory: work)
                #expect(quiet.stderr.contains("--allow-alert-url"), "\(quiet.stderr)")
                #expect(hooks.requests.isEmpty, "the run's webhook was posted to")
                _ = try await KeelProcess.run(["runs", "resume", "noisy-2", "--allow-alert-url", hook], killAfter: nil, directory: work)
                #expect(hooks.requests.filter { $0.uri == "/alerts" }.count == 1, "the allowed webhook got \(hooks.requests.count) posts")
            }
        }
    }

    /// A run resumed by another command alerts where the run asked (when allowed there): the dead
    /// letter of `keel runs resume` goes to the run's own webhook, and to standard error.
    @Test func aResumedRunsDeadLetterAlertsWhereTheRunAsked() async throws {
        let work = try folder()
        let down = OpenAICompatibleServer.Responder { _ in .error(status: 503, message: "The engine is currently overloaded.", type: "overloaded_error") }
        try await OpenAICompatibleServer.withServer(responder: .scripted([])) { hooks in
            try await OpenAICompatibleServer.withServer(responder: down) { server in
                let hook = "http://127.0.0.1:\(hooks.port)/alerts"
                let submitted = try await KeelProcess.run(
                    ["submit", "agent", "--store", "keel.db", "--run-id", "doomed", "--model", "openai:any", "--base-url", server.baseURL,
                     "--attempts", "1", "--alert-url", hook, "1+2"],
                    killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
                let resumed = try await KeelProcess.run(
                    ["runs", "resume", "doomed", "--allow-base-url", server.baseURL, "--allow-alert-url", hook], killAfter: nil, directory: work)
                #expect(resumed.status == 1)
                #expect(resumed.stderr.contains("alert (dead_letter): run doomed (agent) failed"), "\(resumed.stderr)")
                let posts = hooks.requests.filter { $0.uri == "/alerts" }
                #expect(posts.count == 1)
                #expect(posts.first?.json?["alert"]?["kind"] == "dead_letter")
            }
        }
    }

    @Test func pricesTravelAsDataAndNoFileNamedByARunIsRead() async throws {
        let work = try folder()
        let prices = work.appendingPathComponent("prices.json")
        try #"{"gpt-4o-mini": {"input": 1000, "output": 1000}}"#.write(to: prices, atomically: true, encoding: .utf8)
        try await OpenAICompatibleServer.withServer(responder: .scripted([.text("one", usage: Usage(inputTokens: 1_000, outputTokens: 1_000))])) { server in
            let submitted = try await KeelProcess.run(
                ["submit", "agent", "--store", "keel.db", "--run-id", "priced", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL,
                 "--prices", prices.path, "--max-cost", "100", "hi"], killAfter: nil, directory: work)
            #expect(submitted.status == 0, "\(submitted.stderr)")
            try FileManager.default.removeItem(at: prices)  // the worker never needs it
            let resumed = try await KeelProcess.run(["runs", "resume", "priced"], killAfter: nil, directory: work)
            #expect(resumed.stdout.contains("completed"), "\(resumed.stdout) \(resumed.stderr)")
            let costs = try await KeelProcess.run(["costs", "--by", "run", "--json"], killAfter: nil, directory: work)
            let rows = try JSONValue(parsing: costs.stdout)
            #expect(rows[0]?["cost_usd"]?.doubleValue == 2.0, "\(costs.stdout)")
        }
        // A run of an earlier Keel that names a file: the file is not read.
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        let template = try #require(try await store.run(id: "priced"))
        guard case .object(var fields) = template.input, case .object(var controls) = fields["controls"] ?? .null else {
            Issue.record("the run's input has no controls")
            return
        }
        controls["prices"] = nil
        controls["pricesPath"] = "/etc/shadow"
        fields["controls"] = .object(controls)
        fields["model"] = ["spec": "test"]
        _ = try await store.createRun(NewRun(id: "legacy", workflow: "agent", input: .object(fields)))
        let legacy = try await KeelProcess.run(["runs", "resume", "legacy"], killAfter: nil, directory: work)
        #expect(legacy.stdout.contains("completed"), "\(legacy.stdout) \(legacy.stderr)")
        #expect(!legacy.stderr.contains("shadow"))
    }
}
