import Foundation
import KeelCore
import Logging
import MCP
import Synchronization

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The tools of one MCP server, as Keel tools.
///
/// ```swift
/// let toolset = try await MCPToolset.connect(.stdio(executable: "python3", arguments: ["server.py"]))
/// defer { Task { await toolset.close() } }
/// let agent = Agent(model: model, tools: toolset.tools)
/// ```
///
/// Each tool keeps the server's name, description and input schema; Keel checks the model's
/// arguments against the schema before the server sees them, and governance applies as to any
/// other tool. A result the server marks as an error reaches the model as a failed call. A tool is
/// side-effecting unless the server marks it read-only (`readOnlyHint`), so that a durable run
/// journals it as started before it runs.
public final class MCPToolset: Sendable {
    /// The server the tools come from.
    public let server: MCPServer
    /// The server's tools.
    public let tools: [AnyTool]
    /// The server's name and version, as it reported them.
    public let serverInfo: String
    private let client: Client
    private let child: ChildProcess?

    private init(server: MCPServer, tools: [AnyTool], serverInfo: String, client: Client, child: ChildProcess?) {
        self.server = server
        self.tools = tools
        self.serverInfo = serverInfo
        self.client = client
        self.child = child
    }

    /// Starts or reaches the server, completes MCP's handshake and lists its tools.
    ///
    /// - Parameters:
    ///   - callTimeout: The longest one tool call may take before it fails with a timeout.
    ///   - idleTimeout: Over HTTP, the longest an answer that has begun may go without sending
    ///     anything (an event, a progress notification or a piece of the body) before the call
    ///     fails with a timeout. Default: 60 seconds, the request timeout of MCP's TypeScript SDK.
    ///   - connectTimeout: The longest the handshake and the tool listing may take.
    /// - Throws: ``MCPToolsetError`` when the server cannot be started or reached, does not answer
    ///   in time, or offers a tool with an unusable schema.
    public static func connect(
        _ server: MCPServer, callTimeout: Duration = .seconds(120), idleTimeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "keel.mcp")
    ) async throws -> MCPToolset {
        let client = Client(name: "keel", version: "0.1.0")
        var child: ChildProcess?
        let transport: any Transport
        switch server {
        case .stdio(let executable, let arguments, let environment):
            let started = try ChildProcess.start(executable: executable, arguments: arguments, environment: environment)
            child = started
            transport = StdioTransport(
                input: FileDescriptor(rawValue: started.output), output: FileDescriptor(rawValue: started.input), logger: logger)
        case .http(let url, let headers):
            transport = StreamableHTTPTransport(
                endpoint: url, headers: headers, requestTimeout: callTimeout, idleTimeout: idleTimeout, logger: logger)
        }
        do {
            let (info, listed) = try await withTimeout(connectTimeout, "the MCP server \(server) did not complete its handshake", watching: child) {
                let initialized = try await client.connect(transport: transport)
                var tools: [MCP.Tool] = []
                var cursor: String?
                repeat {
                    let page = try await client.listTools(cursor: cursor)
                    tools += page.tools
                    cursor = page.nextCursor
                } while cursor != nil && tools.count < 10_000
                return ("\(initialized.serverInfo.name) \(initialized.serverInfo.version)", tools)
            }
            let tools = try listed.map { try Self.tool($0, client: client, server: server, child: child, callTimeout: callTimeout) }
            return MCPToolset(server: server, tools: tools, serverInfo: info, client: client, child: child)
        } catch {
            await client.disconnect()
            // A server that died during the handshake often shows first as a broken pipe; give
            // its exit a moment to be seen, so the message says how it ended.
            let exit = await child?.exitDescription(within: .milliseconds(500))
            let stderr = await child?.stopAndCollect() ?? ""
            if let error = error as? MCPToolsetError, error.code != .connectionFailed { throw error }
            var detail = ""
            if let exit, !"\(error)".contains(exit) { detail += "; \(exit)" }
            if !stderr.isEmpty { detail += "; it wrote: \(stderr.suffix(1_000))" }
            throw MCPToolsetError(.connectionFailed, "could not get tools from the MCP server \(server): \(error)\(detail)")
        }
    }

    /// Ends the session and stops the server's process, if Keel started it.
    public func close() async {
        await client.disconnect()
        _ = child?.stop()
    }

    /// One MCP tool as a Keel tool.
    static func tool(_ tool: MCP.Tool, client: Client, server: MCPServer, child: ChildProcess?, callTimeout: Duration) throws -> AnyTool {
        let schema = JSONValue(mcp: tool.inputSchema)
        guard schema.objectValue != nil else {
            throw MCPToolsetError(.protocolViolation, "the MCP server \(server) gave tool '\(tool.name)' an input schema that is not a JSON object")
        }
        let definition = ToolDefinition(
            name: tool.name, description: tool.description ?? tool.annotations.title ?? tool.name, parameters: JSONSchema(jsonValue: schema))
        let name = tool.name
        return AnyTool(definition: definition, isSideEffecting: tool.annotations.readOnlyHint != true) { arguments, _ in
            let values = (arguments.objectValue ?? [:]).mapValues(\.mcpValue)
            let (content, isError) = try await withTimeout(callTimeout, "the MCP tool \(name) did not answer", watching: child) {
                try await client.callTool(name: name, arguments: values)
            }
            let text = content.map(\.modelText).joined(separator: "\n")
            if isError == true { throw ToolCallError(.failed, text.isEmpty ? "the MCP tool \(name) failed" : text) }
            return text
        }
    }
}

/// Connecting to several MCP servers for the length of a piece of work.
public enum MCPToolsets {
    /// Connects to every server, gives `body` all their tools, and closes them all afterwards,
    /// however `body` ends.
    ///
    /// - Throws: ``MCPToolsetError`` when a server fails to connect (the others are closed) or two
    ///   tools share a name; whatever `body` throws.
    public static func withTools<T: Sendable>(
        _ servers: [MCPServer], callTimeout: Duration = .seconds(120), _ body: ([AnyTool]) async throws -> T
    ) async throws -> T {
        var toolsets: [MCPToolset] = []
        do {
            for server in servers { toolsets.append(try await MCPToolset.connect(server, callTimeout: callTimeout)) }
            var seen: [String: MCPServer] = [:]
            for toolset in toolsets {
                for tool in toolset.tools {
                    if let other = seen[tool.name] {
                        throw MCPToolsetError(.duplicateTool, "the MCP servers \(other) and \(toolset.server) both offer a tool named '\(tool.name)'")
                    }
                    seen[tool.name] = toolset.server
                }
            }
            let result = try await body(toolsets.flatMap(\.tools))
            for toolset in toolsets { await toolset.close() }
            return result
        } catch {
            for toolset in toolsets { await toolset.close() }
            throw error
        }
    }
}

/// Runs `body`, failing with ``MCPToolsetError/Code/timedOut`` if it takes longer than `limit`.
/// On a timeout `body` is cancelled but not waited for: a request the server never answers must
/// not hold the caller.
/// With `child`, the work also fails as soon as the server's process exits.
func withTimeout<T: Sendable>(
    _ limit: Duration, _ message: String, watching child: ChildProcess? = nil, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    var watcher: (@Sendable () async -> any Error)?
    if let child {
        watcher = { @Sendable () async -> any Error in
            while true {
                if let exit = child.exitDescription() { return MCPToolsetError(.connectionFailed, exit) }
                do {
                    try await Task.sleep(for: .milliseconds(50))
                } catch {
                    return CancellationError()
                }
            }
        }
    }
    return try await withTimeLimit(limit, onTimeout: { MCPToolsetError(.timedOut, "\(message) within \(limit)") }, watcher: watcher, body)
}
