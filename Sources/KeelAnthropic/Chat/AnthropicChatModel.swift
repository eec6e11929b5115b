import AsyncHTTPClient
import KeelCore
import KeelHTTP
import Logging

extension ProviderDialect {
    /// Anthropic's: `anthropic-ratelimit-*` and `retry-after` headers, errors as
    /// `{"type": "error", "error": {"type", "message"}}` (the common shape: 529 is `overloaded`).
    static let anthropic = ProviderDialect(rateLimit: { AnthropicRateLimitHeaders.parse($0) })
}

/// A Claude model behind Anthropic's Messages API, or a server compatible with it.
///
/// ```swift
/// let model = AnthropicChatModel(name: "claude-sonnet-4-5", configuration: .fromEnvironment(ProcessInfo.processInfo.environment))
/// let reply = try await model.respond(to: ChatRequest(messages: [.system("Be brief."), .user("Hi")], maxOutputTokens: 200))
/// ```
///
/// Requests carry prompt-cache markers as ``AnthropicConfiguration/promptCaching`` says; replies'
/// cache reads are ``KeelCore/Usage/cachedInputTokens``. Failures are thrown as ``KeelCore/ModelError``
/// with the status, the provider's error type and message, and the rate-limit headers.
public struct AnthropicChatModel: TokenCountingModel {
    public let provider = "anthropic"
    public let name: String
    public let configuration: AnthropicConfiguration
    /// ``AnthropicConfiguration/countsTokens``.
    public var countsInputTokens: Bool { configuration.countsTokens }
    private let transport: ProviderTransport
    private let logger: Logger

    /// A model named `name` at the configured server, using `client` (default: ``AsyncHTTPClient/HTTPClient/keel``).
    public init(
        name: String, configuration: AnthropicConfiguration = AnthropicConfiguration(), client: HTTPClient = .keel,
        logger: Logger = Logger(label: "keel.anthropic")
    ) {
        self.name = name
        self.configuration = configuration
        self.transport = ProviderTransport(endpoint: configuration.endpoint, dialect: .anthropic, client: client, logger: logger)
        self.logger = logger
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let body = MessagesWire.requestBody(request, model: name, stream: false, caching: configuration.promptCaching, thinkingBudget: configuration.thinkingBudget)
        return try await transport.exchange("/messages", body: body) { json, rateLimit throws(ModelError) in
            MessagesWire.answeringThroughOutputTool(try MessagesWire.parseResponse(json, rateLimit: rateLimit), request: request)
        }
    }

    /// The input tokens `request` would be billed, from `POST /messages/count_tokens`.
    public func countInputTokens(_ request: ChatRequest) async throws -> Int {
        let body = MessagesWire.countTokensBody(request, model: name, caching: configuration.promptCaching, thinkingBudget: configuration.thinkingBudget)
        return try await transport.exchange("/messages/count_tokens", body: body) { json, _ throws(ModelError) in
            guard let count = json["input_tokens"]?.intValue, (0...Usage.plausibleMaximum).contains(count) else {
                throw ModelError(.malformedResponse, message: "The token count has no plausible input_tokens: \(json.serialized().prefix(80)).")
            }
            return count
        }
    }

    public func stream(_ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void) async throws -> ChatResponse {
        let body = MessagesWire.requestBody(request, model: name, stream: true, caching: configuration.promptCaching, thinkingBudget: configuration.thinkingBudget)
        do {
            let reply = try await transport.post("/messages", body: body)
            var stream = MessagesStream()
            do {
                try await read(reply, into: &stream, onEvent: onEvent)
                return MessagesWire.answeringThroughOutputTool(try stream.response(rateLimit: reply.rateLimit), request: request)
            } catch var error as ModelError where reply.isSuccess {
                // The server accepted the request: what it generated before the failure is billed.
                if error.billing == .notBilled { error.billing = stream.usageSoFar.map { .usage($0) } ?? .unknown }
                throw error
            }
        } catch let error as ModelError {
            throw transport.redacting(error)
        }
    }

    private func read(_ reply: ProviderTransport.Reply, into stream: inout MessagesStream, onEvent: (ChatStreamEvent) async throws -> Void) async throws {
        let status = reply.status
        let rateLimit = reply.rateLimit
        try await transport.readEvents(reply) { events in
            for event in events where !stream.isComplete {
                let json: JSONValue
                do {
                    json = try JSONValue(parsing: event.data)
                } catch {
                    throw ModelError(.malformedResponse, message: "A streamed event is not JSON (\(error)).", statusCode: status)
                }
                for delta in try stream.apply(json, rateLimit: rateLimit) { try await onEvent(delta) }
            }
            return stream.isComplete
        }
        guard stream.isComplete else {
            throw ModelError(.malformedResponse, message: "The stream ended before message_stop.", statusCode: status)
        }
    }
}
