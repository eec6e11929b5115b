import Foundation
import KeelApp
import KeelCore
import KeelTestSupport
import KeelTesting
import Testing

/// The real `keel` process against a local OpenAI-compatible server.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct AgentCommandTests {
    let script: [ServerReply] = [
        .toolCalls([ToolCall(id: "call_1", name: "add", arguments: #"{"a":1,"b":2}"#)], usage: Usage(inputTokens: 57, outputTokens: 11)),
        .text("1 plus 2 is 3.", usage: Usage(inputTokens: 81, cachedInputTokens: 32, outputTokens: 7)),
    ]

    /// A `keel` copied without its resource folder (into a container, say) says what is missing
    /// when it needs the tokenizer, instead of ending in SwiftPM's `fatalError`.
    @Test func aBinaryWithoutItsResourcesSaysWhatIsMissing() async throws {
        let folder = try TemporaryFolder.make("keel-copied")
        let copy = folder.appendingPathComponent("keel")
        try FileManager.default.copyItem(at: KeelProcess.binary, to: copy)
        func run(_ environment: [String: String]) async throws -> (Int32?, String) {
            let child = try SpawnedProcess(
                copy.path, ["agent", "--model", "test", "--max-cost", "1", "hi"], environment: KeelProcess.childEnvironment(environment),
                directory: folder, output: folder.appendingPathComponent("out"), errorOutput: folder.appendingPathComponent("err"))
            return (await child.wait(timeout: .seconds(60)), child.errorText)
        }
        let (status, stderr) = try await run([:])
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains("cl100k_base.tiktoken") && stderr.contains("KEEL_CL100K_VOCABULARY"), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1)
        let vocabulary = KeelProcess.binary.deletingLastPathComponent().appendingPathComponent("keel_KeelCore.resources/cl100k_base.tiktoken")
        let (fixed, _) = try await run(["KEEL_CL100K_VOCABULARY": vocabulary.path])
        #expect(fixed == 0)
    }

    @Test func theOfflineAgentWorksOutASum() async throws {
        let output = try await KeelProcess.run(["agent", "--tools", "calculator", "What is 12 times 7 plus 5?"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout == "12 times 7 plus 5 = 89\n")
    }

    @Test func agentCompletesAgainstAServerThatScriptsToolCalls() async throws {
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let output = try await KeelProcess.run(["agent", "--model", "openai:any", "--base-url", server.baseURL, "--tools", "calculator", "What is 1 plus 2?"])
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stdout == "1 plus 2 is 3.\n")
            #expect(server.chatRequests.count == 2)
            let second = try #require(server.chatRequests.last?.json)
            #expect(second["messages"]?[2] == ["role": "tool", "tool_call_id": "call_1", "content": "3"])
            #expect(second["max_tokens"] == 1_500)
        }
    }

    @Test func jsonShowsEachStepAndTheUsageTheServerReported() async throws {
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let output = try await KeelProcess.run(["agent", "--json", "--model", "openai:any", "--base-url", server.baseURL, "--tools", "calculator", "What is 1 plus 2?"])
            #expect(output.status == 0, "\(output.stderr)")
            let report = try JSONValue(parsing: output.stdout)
            #expect(report["outcome"] == ["kind": "completed", "answer": "1 plus 2 is 3."])
            #expect(report["steps"]?.arrayValue?.count == 2)
            #expect(report["steps"]?[0]?["tool_calls"]?[0]?["name"] == "add")
            #expect(report["steps"]?[0]?["tool_results"]?[0]?["content"] == "3")
            #expect(report["steps"]?[0]?["usage"]?["input_tokens"] == 57)
            #expect(report["steps"]?[1]?["usage"]?["cached_input_tokens"] == 32)
            #expect(report["usage"]?["input_tokens"] == 138)
            #expect(report["usage"]?["output_tokens"] == 18)
            #expect(report["transcript"]?.arrayValue?.count == 4)
        }
    }

    @Test func theEnvironmentNamesTheServer() async throws {
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let output = try await KeelProcess.run(
                ["agent", "--model", "openai:any", "--tools", "calculator", "What is 1 plus 2?"],
                environment: ["OPENAI_BASE_URL": server.baseURL, "OPENAI_API_KEY": "sk-from-env"])
            #expect(output.status == 0, "\(output.stderr)")
            #expect(server.chatRequests.first?.header("authorization") == "Bearer sk-from-env")
        }
    }

    @Test(arguments: [
        ["agent", "--max-steps", "many", "hi"],
        ["agent", "--bogus", "hi"],
        ["agent"],
        ["agent", "--tools", "teleporter", "hi"],
        ["agent", "--model", "nope:x", "hi"],
        ["frobnicate"],
    ])
    func aBadFlagIsOneLineAndANonZeroExit(arguments: [String]) async throws {
        let output = try await KeelProcess.run(arguments)
        #expect(output.status != 0)
        #expect(output.stderrLines.count == 1, "\(output.stderr)")
        #expect(output.stderr.hasPrefix("keel: "))
        #expect(output.stdout.isEmpty)
    }

    @Test func anUnreachableServerIsOneLineAndANonZeroExit() async throws {
        let output = try await KeelProcess.run(["agent", "--model", "openai:any", "--base-url", "http://127.0.0.1:1/v1", "hi"])
        #expect(output.status != 0)
        #expect(output.stderrLines.count == 1, "\(output.stderr)")
        #expect(output.stderr.contains("connection"))
    }

    @Test func aWrongKeyIsOneLineAndANonZeroExit() async throws {
        let reply = ServerReply.error(status: 401, message: "Incorrect API key provided: sk-wrong.", type: "invalid_request_error", code: "invalid_api_key")
        try await OpenAICompatibleServer.withServer(responder: .scripted([reply])) { server in
            let output = try await KeelProcess.run(["agent", "--model", "openai:any", "--base-url", server.baseURL, "hi"], environment: ["OPENAI_API_KEY": "sk-wrong"])
            #expect(output.status != 0)
            // The server echoed the key; the CLI never prints it.
            #expect(output.stderrLines == ["keel: the model call failed: authentication (HTTP 401): Incorrect API key provided: <redacted>."])
        }
    }
}
