import Foundation
import KeelApp
import KeelTestSupport
import KeelTesting
import Testing

@testable import KeelMCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process of a stdio MCP server: what it inherits, how it is stopped and reaped.
@Suite(.timeLimit(.minutes(5))) struct ChildProcessTests {
    @Test func aServerGetsAMinimalEnvironmentAndItsOwnVariables() {
        let parent = ["PATH": "/usr/bin", "HOME": "/home/k", "OPENAI_API_KEY": "sk-secret", "KEEL_STORE": "postgres://u:p@db/keel"]
        let environment = ChildProcess.environment(["SERVER_MODE": "test", "PATH": "/opt/bin"], parent: parent)
        #expect(environment == ["PATH": "/opt/bin", "HOME": "/home/k", "SERVER_MODE": "test"])
    }

    #if os(Linux)
    @Test func aServerGetsOnlyItsPipesAndNoCredentials() async throws {
        // This process holds a listening socket and a connection while the server starts.
        try await OpenAICompatibleServer.withServer(responder: .scripted([])) { server in
            let connection = try await LoopbackConnection.open(port: server.port)
            defer { close(connection) }
            let child = try ChildProcess.start(executable: "sleep", arguments: ["30"], environment: ["SERVER_MODE": "test"])
            let pid = child.pid
            // Its dynamic loader briefly holds the libraries it opens, and a loaded machine may
            // take a while to run it; an inherited descriptor would never go away.
            var descriptors: [String] = []
            var variables: [String] = []
            for _ in 0..<2_000 {
                descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted()) ?? []
                let environ = FileHandle(forReadingAtPath: "/proc/\(pid)/environ")?.readDataToEndOfFile() ?? Data()
                variables = String(decoding: environ, as: UTF8.self).split(separator: "\0").map(String.init)
                if descriptors == ["0", "1", "2"], !variables.isEmpty { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let state = child.exitDescription() ?? "running"
            #expect(descriptors == ["0", "1", "2"], "the server (\(state)) holds \(descriptors)")
            for descriptor in descriptors {
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)").hasPrefix("pipe:"))
            }
            // Only the minimal set is inherited, whatever this process has (CI sets plenty).
            #expect(variables.contains("SERVER_MODE=test"), "the server (\(state)) has \(variables)")
            let names = Set(variables.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
            #expect(names.isSubset(of: Set(ChildProcess.inheritedVariables + ["SERVER_MODE"])), "\(names)")
            #expect(ProcessInfo.processInfo.environment.keys.contains { !ChildProcess.inheritedVariables.contains($0) })

            let stderr = await child.stopAndCollect()
            #expect(stderr.isEmpty)
            #expect(await Self.ended(child))
        }
    }

    static func ended(_ child: ChildProcess) async -> Bool {
        for _ in 0..<500 where child.exitDescription() == nil { try? await Task.sleep(for: .milliseconds(10)) }
        return child.exitDescription() != nil
    }
    #endif
}
