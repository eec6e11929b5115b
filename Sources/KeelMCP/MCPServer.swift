import Foundation

/// An MCP server to take tools from: a command that speaks MCP on its standard input and output,
/// or a streamable-HTTP endpoint.
public enum MCPServer: Sendable, Hashable, CustomStringConvertible {
    /// A program started as a child process, speaking MCP over stdio. `executable` is looked up
    /// on `PATH` when it has no slash. The program's environment is `environment` over a minimal
    /// one inherited from this process (`HOME`, `LOGNAME`, `PATH`, `SHELL`, `TERM`, `USER`, the
    /// locale, `TMPDIR`, `TZ`): never this process's credentials. It gets its three standard
    /// streams and no other open descriptor.
    case stdio(executable: String, arguments: [String], environment: [String: String] = [:])
    /// A server speaking MCP's streamable HTTP transport at `url`, with extra request headers
    /// (such as `Authorization`).
    case http(URL, headers: [String: String] = [:])

    /// Parses the CLI's form: `stdio:COMMAND ARGS…` (split like a shell does: spaces separate
    /// words, quotes group them, a backslash escapes), or an `http://` or `https://` URL.
    public init(parsing text: String) throws(MCPToolsetError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("stdio:") {
            let words = try Self.words(String(trimmed.dropFirst("stdio:".count)))
            guard let executable = words.first else {
                throw MCPToolsetError(.invalidServer, "'\(text)' names no command; write stdio:COMMAND ARGS, such as stdio:python server.py")
            }
            self = .stdio(executable: executable, arguments: Array(words.dropFirst()))
            return
        }
        if let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil {
            self = .http(url)
            return
        }
        throw MCPToolsetError(.invalidServer, "'\(text)' is not an MCP server; write stdio:COMMAND ARGS or an http(s):// URL")
    }

    public var description: String {
        switch self {
        case .stdio(let executable, let arguments, _): "stdio:" + ([executable] + arguments).joined(separator: " ")
        case .http(let url, _): url.absoluteString
        }
    }

    /// Shell-like word splitting, without expansion.
    static func words(_ text: String) throws(MCPToolsetError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
                inWord = true
            } else if character == "\\" && quote != "'" {
                escaped = true
            } else if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if quote != nil || escaped { throw MCPToolsetError(.invalidServer, "'\(text)' has an unclosed quote or a trailing backslash") }
        if inWord { words.append(current) }
        return words
    }
}

/// Why an MCP server's tools could not be had or called.
public struct MCPToolsetError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of failure.
    public enum Code: String, Sendable, Hashable {
        /// The server's description (`--mcp` text) cannot be understood.
        case invalidServer = "invalid_server"
        /// The server could not be started or reached, or did not complete MCP's handshake.
        case connectionFailed = "connection_failed"
        /// The server's answer does not follow MCP (such as a tool with an unusable schema).
        case protocolViolation = "protocol_violation"
        /// Two servers (or one) offer tools with the same name.
        case duplicateTool = "duplicate_tool"
        /// The server did not answer within the time allowed.
        case timedOut = "timed_out"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
