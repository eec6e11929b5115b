import Foundation
import KeelCore
import KeelMCP
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// Tools from a real MCP server (Python, the `mcp` package from PyPI), over stdio and over
/// streamable HTTP.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct MCPToolsetTests {
    /// What every transport must show: the server's tools, their schemas, results, errors, and
    /// arguments refused before the server sees them.
    func checkTools(of server: MCPServer, ledger: Scratch) async throws {
        let toolset = try await MCPToolset.connect(server)
        do {
            try await checkTools(of: toolset, ledger: ledger)
            await toolset.close()
        } catch {
            await toolset.close()
            throw error
        }
    }

    func checkTools(of toolset: MCPToolset, ledger: Scratch) async throws {
        #expect(toolset.serverInfo.hasPrefix("keel-test-server"))
        #expect(toolset.tools.map { $0.name }.sorted() == ["add", "fail", "shout", "transfer"])
        let add = try #require(toolset.tools.first { $0.name == "add" })
        #expect(add.definition.description == "Adds two whole numbers.")
        #expect(add.definition.parameters.jsonValue["required"] == ["a", "b"])
        #expect(add.definition.parameters.jsonValue["properties"]?["a"]?["type"] == "integer")
        #expect(add.isSideEffecting)  // the server does not mark it read-only

        let context = ToolContext(callID: "c1", toolName: "add", idempotencyKey: "k1")
        #expect(try await add.call(arguments: #"{"a": 40, "b": 2}"#, context: context) == "42")

        // Bad arguments are refused by the schema; the server never sees them.
        await #expect(throws: ToolCallError.self) { try await add.call(arguments: #"{"a": "forty"}"#, context: context) }

        // A tool that raises: the error text reaches the caller as a failed call.
        let fail = try #require(toolset.tools.first { $0.name == "fail" })
        do {
            _ = try await fail.call(arguments: #"{"reason": "the vault is closed"}"#, context: context)
            Issue.record("a failing MCP tool returned")
        } catch let error as ToolCallError {
            #expect(error.code == .failed)
            #expect(error.message.contains("the vault is closed"))
        }

        let transfer = try #require(toolset.tools.first { $0.name == "transfer" })
        #expect(try await transfer.call(arguments: #"{"account": "ES-1", "amount": 12.5}"#, context: context) == "transferred 12.50 to ES-1")
        #expect(ledger.lines("ledger") == ["ES-1 12.5"])
    }

    @Test(.needsPython) func toolsOverStdioAreKeelTools() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        try await checkTools(of: try await TestMCPServer.stdio(ledger: scratch.file("ledger")), ledger: scratch)
    }

    @Test(.needsPython) func toolsOverStreamableHTTPAreKeelTools() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        try await TestMCPServer.withHTTPServer(ledger: scratch.file("ledger")) { server in
            try await checkTools(of: server, ledger: scratch)
        }
    }

    @Test(.needsPython) func aServerThatCannotStartOrDiesGivesAClearError() async throws {
        do {
            _ = try await MCPToolset.connect(.stdio(executable: "/nonexistent/mcp-server", arguments: []))
            Issue.record("connected to a missing program")
        } catch let error as MCPToolsetError {
            #expect(error.code == .connectionFailed)
            #expect(error.message.contains("/nonexistent/mcp-server"))
        }
        let python = try await TestMCPServer.python()
        do {
            _ = try await MCPToolset.connect(
                .stdio(executable: python.path, arguments: ["-c", "import sys; print('no config file', file=sys.stderr); sys.exit(3)"]),
                connectTimeout: .seconds(20))
            Issue.record("connected to a server that exited")
        } catch let error as MCPToolsetError {
            #expect(error.code == .connectionFailed)
            #expect(error.message.contains("exited with status 3"))
            #expect(error.message.contains("no config file"))
        }
        // Nothing listens on port 1.
        do {
            _ = try await MCPToolset.connect(.http(URL(string: "http://127.0.0.1:1/mcp")!))
            Issue.record("connected to a closed port")
        } catch let error as MCPToolsetError {
            #expect(error.code == .connectionFailed)
        }
    }

    @Test func serverDescriptionsParseLikeAShell() throws {
        #expect(try MCPServer(parsing: "stdio:python3 server.py --name 'my server'") == .stdio(executable: "python3", arguments: ["server.py", "--name", "my server"]))
        #expect(try MCPServer(parsing: #"stdio:node "a b.js" x\ y"#) == .stdio(executable: "node", arguments: ["a b.js", "x y"]))
        #expect(try MCPServer(parsing: "http://127.0.0.1:8000/mcp") == .http(URL(string: "http://127.0.0.1:8000/mcp")!))
        #expect(throws: MCPToolsetError.self) { try MCPServer(parsing: "stdio:") }
        #expect(throws: MCPToolsetError.self) { try MCPServer(parsing: "stdio:python 'unclosed") }
        #expect(throws: MCPToolsetError.self) { try MCPServer(parsing: "ftp://example.org") }
        #expect(throws: MCPToolsetError.self) { try MCPServer(parsing: "server.py") }
    }
}
