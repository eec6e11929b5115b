import Foundation
import KeelMCP
import KeelTestSupport
import KeelTesting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The test MCP server (`Fixtures/keel_test_mcp_server.py`), written with the `mcp` package from
/// PyPI, run by a Python environment the tests make on first use.
enum TestMCPServer {
    /// The `mcp` release the tests run against.
    static let requirement = "mcp==1.30.0"

    static var script: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Fixtures/keel_test_mcp_server", withExtension: "py") else {
                throw PythonVirtualEnvironment.Failure(description: "the test MCP server's script is missing from the test bundle")
            }
            return url
        }
    }

    static func python() async throws -> URL {
        try await PythonVirtualEnvironment.prepared(requirements: [requirement]).python
    }

    /// The server over stdio, recording transfers into `ledger`.
    static func stdio(ledger: URL? = nil) async throws -> MCPServer {
        .stdio(
            executable: try await python().path, arguments: [try script.path, "stdio"],
            environment: ledger.map { ["KEEL_MCP_LEDGER": $0.path] } ?? [:])
    }

    /// Runs the server over streamable HTTP on a free loopback port for the length of `body`.
    static func withHTTPServer<T>(ledger: URL? = nil, _ body: (MCPServer) async throws -> T) async throws -> T {
        var environment = ProcessInfo.processInfo.environment
        if let ledger { environment["KEEL_MCP_LEDGER"] = ledger.path }
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let process = try SpawnedProcess(
            try await python().path, [try script.path, "http"], environment: environment, output: scratch.file("stdout"),
            errorOutput: scratch.file("stderr"))
        // Its shutdown is not under test: uvicorn waits for open connections on SIGTERM. The
        // process is reaped by its own thread.
        defer { process.send(SIGKILL) }
        // The script prints one line once it accepts connections.
        let text = try await process.firstLine(what: "the HTTP MCP server")
        guard let start = text.range(of: "http://"), let url = URL(string: String(text[start.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw PythonVirtualEnvironment.Failure(description: "the HTTP MCP server printed no address: \(text)")
        }
        return try await body(.http(url))
    }
}

/// A file in a folder of its own, removed with the folder by `cleanup`.
struct Scratch {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("keel-mcp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { folder.appendingPathComponent(name) }

    func lines(_ name: String) -> [String] {
        ((try? String(contentsOf: file(name), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func cleanup() { try? FileManager.default.removeItem(at: folder) }
}
