import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelTestSupport
import KeelTesting
import Testing

/// `keel agent --mcp`: a real MCP server (Python, the `mcp` package from PyPI) started by the real
/// `keel` process over stdio, its tools called by the model.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPython) struct MCPCommandTests {
    /// The test MCP server shared with KeelMCPTests.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KeelMCPTests/Fixtures/keel_test_mcp_server.py")

    @Test func theAgentCallsAnMCPServersToolOverStdio() async throws {
        let python = try await PythonVirtualEnvironment.prepared(requirements: ["mcp==1.30.0"]).python
        let script: [ServerReply] = [
            .toolCalls([ToolCall(id: "m1", name: "add", arguments: #"{"a":40,"b":2}"#)], usage: Usage(inputTokens: 30, outputTokens: 8)),
            .text("40 plus 2 is 42.", usage: Usage(inputTokens: 50, outputTokens: 6)),
        ]
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let output = try await KeelProcess.run(
                ["agent", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL, "--mcp", "stdio:\(python.path) \(Self.script.path) stdio",
                 "--json", "What is 40 plus 2?"],
                killAfter: nil, timeout: .seconds(120))
            #expect(output.status == 0, "\(output.stderr)")
            let report = try JSONValue(parsing: output.stdout)
            #expect(report["outcome"]?["answer"] == "40 plus 2 is 42.")
            // The model was offered the server's tools, and read the server's answer.
            let first = try #require(server.chatRequests.first?.json)
            let offered = first["tools"]?.arrayValue?.compactMap { $0["function"]?["name"]?.stringValue } ?? []
            #expect(Set(offered) == ["add", "fail", "shout", "transfer"])
            let messages = try #require(server.chatRequests.last?.json?["messages"]?.arrayValue)
            #expect(messages.last?["role"] == "tool")
            #expect(messages.last?["content"] == "42")
        }
    }

    @Test func aCrewsAgentUsesTheToolsOfAnMCPServerTheProcessWasGiven() async throws {
        let python = try await PythonVirtualEnvironment.prepared(requirements: ["mcp==1.30.0"]).python
        let work = try TemporaryFolder.make("keel-crew-mcp")
        try "adder:\n  role: Adder\n  goal: Add numbers\n  backstory: You add.\n  tools: [mcp:math]\n"
            .write(to: work.appendingPathComponent("agents.yaml"), atomically: true, encoding: .utf8)
        try "sum:\n  description: What is {a} plus {b}?\n  expected_output: The sum.\n  agent: adder\n"
            .write(to: work.appendingPathComponent("tasks.yaml"), atomically: true, encoding: .utf8)
        let script: [ServerReply] = [
            .toolCalls([ToolCall(id: "m1", name: "add", arguments: #"{"a":40,"b":2}"#)], usage: Usage(inputTokens: 30, outputTokens: 8)),
            .text("42", usage: Usage(inputTokens: 50, outputTokens: 2)),
        ]
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            // Without the server in the process's configuration, the crew is refused before any work.
            let refused = try await KeelProcess.run(
                ["crew", "run", work.path, "--input", "a=40", "--input", "b=2", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL,
                 "--db", work.appendingPathComponent("keel.db").path],
                killAfter: nil, timeout: .seconds(60))
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("agents.yaml:5: adder.tools: no tool named 'mcp:math'"))
            let output = try await KeelProcess.run(
                ["crew", "run", work.path, "--input", "a=40", "--input", "b=2", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL,
                 "--mcp", "math=stdio:\(python.path) \(Self.script.path) stdio", "--db", work.appendingPathComponent("keel.db").path, "--json"],
                killAfter: nil, timeout: .seconds(120))
            #expect(output.status == 0, "\(output.stderr)")
            let messages = try #require(server.chatRequests.last?.json?["messages"]?.arrayValue)
            #expect(messages.last?["role"] == "tool")
            #expect(messages.last?["content"] == "42")
            #expect(try printedCrewResult(output.stdout).output == "42")
        }
    }

    @Test func anMCPServerThatCannotStartIsAOneLineError() async throws {
        let output = try await KeelProcess.run(
            ["agent", "--model", "openai:gpt-4o-mini", "--base-url", "http://127.0.0.1:9/v1", "--mcp", "stdio:/nonexistent/mcp-server --stdio", "hello"],
            killAfter: nil, timeout: .seconds(60))
        #expect(output.status != 0)
        #expect(output.stderrLines.count == 1, "\(output.stderr)")
        #expect(output.stderr.contains("/nonexistent/mcp-server"))
    }
}
