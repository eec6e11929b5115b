/// A language model behind a provider: one request in, one reply (or a stream of events) out.
///
/// Implementations throw ``ModelError`` so that callers can act on the class of failure. Keel's
/// providers (OpenAI-compatible servers, Anthropic) and its test models (``ChatModel`` fakes in
/// KeelTesting) conform.
///
/// ```swift
/// let reply = try await model.respond(to: ChatRequest(messages: [.user("Hello")], maxOutputTokens: 100))
/// print(reply.message.text ?? "", reply.usage.outputTokens)
/// ```
public protocol ChatModel: Sendable {
    /// The provider's name, such as `openai`; used in logs, prices and fallbacks.
    var provider: String { get }
    /// The model's name at the provider, such as `gpt-4o-mini`.
    var name: String { get }

    /// Sends the request and returns the complete reply.
    func respond(to request: ChatRequest) async throws -> ChatResponse

    /// Sends the request and streams the reply as it arrives: `onEvent` sees each piece of text and
    /// of each tool call in order, and the complete reply (with usage) is returned at the end.
    ///
    /// The stream runs in the caller's task, so cancelling the caller cancels the call, and a slow
    /// `onEvent` slows the read (back-pressure). An error thrown by `onEvent` ends the call.
    func stream(
        _ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void
    ) async throws -> ChatResponse
}

extension ChatModel {
    /// `provider:name`, such as `openai:gpt-4o-mini`.
    public var identifier: String { "\(provider):\(name)" }

    /// For models that do not stream: calls ``respond(to:)`` and reports its text as one delta.
    public func stream(
        _ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void
    ) async throws -> ChatResponse {
        let response = try await respond(to: request)
        if let text = response.message.text, !text.isEmpty { try await onEvent(.textDelta(text)) }
        for (index, call) in response.message.toolCalls.enumerated() {
            try await onEvent(.toolCallDelta(index: index, id: call.id, name: call.name, argumentsDelta: call.arguments))
        }
        return response
    }
}

/// One event of a streamed reply.
public enum ChatStreamEvent: Sendable, Hashable {
    /// More text of the reply.
    case textDelta(String)
    /// More of tool call number `index`: its id and name arrive first, then its arguments in pieces.
    case toolCallDelta(index: Int, id: String?, name: String?, argumentsDelta: String)
}

/// A model that turns text into vectors, for semantic memory and retrieval.
public protocol EmbeddingModel: Sendable {
    /// The provider's name, such as `openai`.
    var provider: String { get }
    /// The model's name at the provider, such as `text-embedding-3-small`.
    var name: String { get }

    /// One vector per input, in order.
    func embed(_ inputs: [String]) async throws -> Embeddings
}

/// The vectors for a batch of inputs, and the tokens used.
public struct Embeddings: Sendable, Hashable {
    public var vectors: [[Float]]
    public var usage: Usage

    public init(vectors: [[Float]], usage: Usage) {
        self.vectors = vectors
        self.usage = usage
    }
}
