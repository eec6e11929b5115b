/// Assembles a ``ChatResponse`` from streamed deltas, for providers that stream.
public struct ChatResponseAccumulator: Sendable {
    private var text = ""
    private var sawText = false
    private var toolCalls: [Int: ToolCall] = [:]
    /// The provider's response id, once known.
    public var id: String?
    /// The model name, once known.
    public var model: String?
    /// Usage, once the provider reports it (often in the last chunk).
    public var usage: Usage = .zero
    /// The finish reason, once known.
    public var finishReason: FinishReason?
    /// Rate-limit headers of the response.
    public var rateLimit: RateLimitSnapshot?

    public init() {}

    /// Adds text.
    public mutating func appendText(_ delta: String) {
        text += delta
        sawText = true
    }

    /// How many distinct tool calls the deltas so far started.
    public var toolCallCount: Int { toolCalls.count }

    /// Adds part of tool call number `index`.
    public mutating func appendToolCall(index: Int, id: String?, name: String?, argumentsDelta: String) {
        var call = toolCalls[index] ?? ToolCall(id: "", name: "", arguments: "")
        if let id, !id.isEmpty { call.id = id }
        if let name, !name.isEmpty, call.name.isEmpty { call.name = name }
        call.arguments += argumentsDelta
        toolCalls[index] = call
    }

    /// The reply so far as a complete response. Tool calls without an id get a generated one, so
    /// that every call can be answered.
    public func response() -> ChatResponse {
        let calls = toolCalls.keys.sorted().compactMap { index -> ToolCall? in
            guard var call = toolCalls[index] else { return nil }
            if call.id.isEmpty { call.id = "call_\(index)" }
            return call
        }
        let reason = finishReason ?? (calls.isEmpty ? .stop : .toolCalls)
        return ChatResponse(
            id: id, model: model, message: AssistantMessage(text: sawText ? text : nil, toolCalls: calls),
            usage: usage, finishReason: reason, rateLimit: rateLimit)
    }
}
