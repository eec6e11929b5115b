import KeelCore

// Shared with Profiles/AgentLoopProfile (a link to this file).

/// A model with prebuilt replies: a tool call for each of the first `steps - 1` calls, then an
/// answer. It does no work of its own, so the benchmark measures Keel's loop, not the model.
struct LoopingModel: ChatModel {
    let provider = "bench"
    let name = "looping"
    let steps: Int
    static let call = ChatResponse(
        message: AssistantMessage(toolCalls: [ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":2}"#)]),
        usage: Usage(inputTokens: 100, outputTokens: 10), finishReason: .toolCalls)
    static let answer = ChatResponse(message: AssistantMessage(text: "done"), usage: Usage(inputTokens: 100, outputTokens: 2))

    func respond(to request: ChatRequest) async throws -> ChatResponse {
        // Each step adds an assistant message and a tool result to the user prompt.
        (request.messages.count - 1) / 2 < steps - 1 ? Self.call : Self.answer
    }
}

let stepsPerRun = 10
