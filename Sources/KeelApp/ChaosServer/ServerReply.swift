import Foundation
import KeelAnthropic
import KeelCore
import KeelOpenAI

/// What the local OpenAI-compatible server answers to one request.
public struct ServerReply: Sendable {
    /// The body of a reply.
    public enum Body: Sendable {
        /// A chat completion: JSON, or server-sent events when the request asked to stream.
        case chat(ChatResponse)
        /// A JSON body.
        case json(JSONValue)
        /// Raw text, such as a body that is not JSON.
        case text(String, contentType: String)
        /// Raw server-sent event payloads (each one `data:` line), optionally ending with `[DONE]`.
        case events([String], done: Bool)
        /// The start of a streamed chat completion, then the connection is dropped.
        case truncatedStream(ChatResponse, chunks: Int)
        /// The start of a streamed chat completion, then nothing more: the connection stays open
        /// until the client gives up (its idle timeout must act).
        case stalledStream(ChatResponse, chunks: Int)
        /// An event stream that never ends: the same valid text chunk, again and again, until the
        /// client hangs up.
        case endlessEvents
        /// An event stream whose first line never ends: `data: aaaa…` until the client hangs up.
        case endlessLine
        /// No answer at all; the connection stays open until the client gives up.
        case hang
    }

    /// The HTTP status. Default: 200.
    public var status: Int
    /// Extra response headers, such as `retry-after` and `x-ratelimit-*`.
    public var headers: [(String, String)]
    public var body: Body
    /// Stream bodies are written in pieces of this many bytes, each flushed on its own, to split
    /// events at arbitrary places; `nil` writes one event at a time. Default: `nil`.
    public var streamPieceSize: Int?
    /// Time to wait before answering. Default: none.
    public var delay: Duration
    /// Time to wait before each piece (or event) of a stream after the first, for streams that
    /// trickle. Default: none.
    public var pieceInterval: Duration

    public init(
        status: Int = 200, headers: [(String, String)] = [], body: Body, streamPieceSize: Int? = nil, delay: Duration = .zero,
        pieceInterval: Duration = .zero
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.streamPieceSize = streamPieceSize
        self.delay = delay
        self.pieceInterval = pieceInterval
    }

    /// A chat completion.
    public static func chat(_ response: ChatResponse, headers: [(String, String)] = []) -> ServerReply {
        ServerReply(headers: headers, body: .chat(response))
    }

    /// A text answer with the given usage.
    public static func text(_ text: String, usage: Usage = Usage(inputTokens: 10, outputTokens: 5)) -> ServerReply {
        .chat(ChatResponse(message: AssistantMessage(text: text), usage: usage, finishReason: .stop))
    }

    /// Tool calls with the given usage.
    public static func toolCalls(_ calls: [ToolCall], usage: Usage = Usage(inputTokens: 10, outputTokens: 5)) -> ServerReply {
        .chat(ChatResponse(message: AssistantMessage(toolCalls: calls), usage: usage, finishReason: .toolCalls))
    }

    /// An OpenAI-style error body (`{"error": {"message", "type", "code"}}`) with a status.
    public static func error(status: Int, message: String, type: String = "error", code: String? = nil, headers: [(String, String)] = []) -> ServerReply {
        var error: [String: JSONValue] = ["message": .string(message), "type": .string(type)]
        error["code"] = code.map(JSONValue.string) ?? .null
        return ServerReply(status: status, headers: headers, body: .json(["error": .object(error)]))
    }

    /// An error in the Messages API's format: `{"type": "error", "error": {"type", "message"}}`.
    public static func anthropicError(
        status: Int, type: String, message: String, headers: [(String, String)] = [], delay: Duration = .zero
    ) -> ServerReply {
        ServerReply(
            status: status, headers: headers, body: .json(["type": "error", "error": ["type": .string(type), "message": .string(message)]]), delay: delay)
    }

    /// A 429 with `retry-after` in seconds.
    public static func rateLimited(retryAfter seconds: Int, headers: [(String, String)] = []) -> ServerReply {
        .error(
            status: 429, message: "Rate limit reached. Please try again in \(seconds)s.", type: "requests", code: "rate_limit_exceeded",
            headers: [("retry-after", String(seconds))] + headers)
    }
}

/// A request the local server received.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The path and query, such as `/v1/chat/completions`.
    public var uri: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The body parsed as JSON, if it is JSON (parsed once, when the request arrives).
    public let json: JSONValue?
    /// When the request arrived.
    public let receivedAt: Date

    public init(method: String, uri: String, headers: [(String, String)], body: [UInt8]) {
        receivedAt = Date()
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        json = try? JSONValue(parsing: body)
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Whether this is a chat completions call.
    public var isChatCompletion: Bool { uri.hasSuffix("/chat/completions") }

    /// Whether this is a call of Anthropic's Messages API.
    public var isMessages: Bool { (uri.split(separator: "?").first ?? "").hasSuffix("/messages") }

    /// The chat request the body asks for, read in the format of its API.
    func chatRequest() throws -> ChatRequest {
        guard let json else { throw ModelError(.invalidRequest, message: "The request body is not JSON.") }
        return isMessages ? try MessagesWire.parseRequest(json) : try ChatCompletionsWire.parseRequest(json).request
    }
}
