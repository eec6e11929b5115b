import Foundation
import KeelCore
import KeelTestSupport
import Testing

/// `POST /v1/chat/completions` of `keel serve`: the official `openai` Python package's client gets
/// answers from a Keel agent with tools, streamed and not, and each answer is a durable run of the
/// key's tenant with its tool call journaled.
@Suite(.timeLimit(.minutes(3))) struct ChatCompletionsTests {
    @Test func theOpenAIPackageGetsAnswersFromAKeelAgentWithTools() async throws {
        let work = try TemporaryFolder.make("keel-chat")
        let db = work.appendingPathComponent("keel.db").path
        let key = try await KeelProcess.run(
            ["keys", "create", "--db", db, "--tenant", "acme", "--name", "sdk", "--role", "operator"], killAfter: nil, directory: work
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let agents = work.appendingPathComponent("agents.json")
        try Data(#"{"calculator": {"model": {"spec": "arithmetic"}, "toolsets": ["calculator"], "maxSteps": 6}}"#.utf8).write(to: agents)
        let server = try BackgroundKeel(["serve", "--db", db, "--port", "0", "--agents", agents.path], log: work.appendingPathComponent("serve.log"))
        let base = "http://127.0.0.1:\(try await server.port(after: "listening on"))"

        guard let script = Bundle.module.url(forResource: "Fixtures/openai_client", withExtension: "py") else {
            throw PythonVirtualEnvironment.Failure(description: "the client script is missing from the test bundle")
        }
        let python = try await PythonVirtualEnvironment.prepared(requirements: ["openai==3.57.0"]).python
        let asked = try await KeelProcess.run(
            executable: python.path, [script.path, base + "/v1", key, "calculator", "What is 6 times 7?"], timeout: .seconds(120), directory: work)
        #expect(asked.status == 0, "\(asked.stderr.suffix(3_000)) \(server.output.suffix(1_000))")
        let result = try JSONValue(parsing: asked.stdout)
        #expect(result["answer"]?.stringValue?.contains("42") == true, "\(asked.stdout)")
        #expect(result["finish_reason"] == "stop")
        #expect(result["total_tokens"]?.intValue ?? 0 > 0)
        let pieces = result["pieces"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(pieces.count >= 2 && pieces.joined() == result["answer"]?.stringValue, "\(pieces)")
        #expect(result["stream_total_tokens"]?.intValue ?? 0 > 0)
        #expect(result["missing"] == "NotFoundError")

        // The answer is a run of the key's tenant: its model and tool steps are journaled.
        let api = LoopbackHTTP(baseURL: base)
        let id = try #require(result["id"]?.stringValue)
        let run = try await api.request(.GET, "/v1/runs/\(id)", key: key)
        #expect(run.json?["run"]?["status"] == "completed" && run.json?["run"]?["tenant"] == "acme", "\(run)")
        let steps = run.json?["steps"]?.arrayValue ?? []
        #expect(steps.contains { $0["kind"] == "tool" && $0["status"] == "completed" }, "\(steps)")
        #expect(run.json?["input"]?["instructions"] == "Answer briefly.")
        // A viewer cannot run agents; a client's own tools are refused.
        let refused = try await api.request(
            .POST, "/v1/chat/completions", key: key,
            json: #"{"model":"calculator","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"x"}}]}"#)
        #expect(refused.status == 400 && refused.json?["error"]?["code"] == "tools_not_supported", "\(refused)")
        try await api.shutdown()
        #expect(await server.terminate(timeout: .seconds(20)) == 0)
    }
}
