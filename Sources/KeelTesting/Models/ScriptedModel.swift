import KeelApp
import KeelCore
import Synchronization

/// A model that answers with the replies you list, in order, and records every request.
///
/// ```swift
/// let model = ScriptedModel([
///     .toolCall("add", arguments: ["a": 1, "b": 2]),
///     .text("3"),
/// ])
/// ```
///
/// When the list runs out it throws ``ModelError/Code/invalidRequest`` saying so, which makes a
/// test that expected fewer calls fail loudly.
public final class ScriptedModel: ChatModel, Sendable {
    /// One scripted reply.
    public enum Reply: Sendable {
        /// A final text answer.
        case text(String)
        /// Tool calls (and optional text).
        case toolCalls([ToolCall], text: String?)
        /// A whole response, usage and finish reason included.
        case response(ChatResponse)
        /// A failure.
        case error(ModelError)

        /// One tool call; its id is `call_<n>` where n counts every scripted call.
        public static func toolCall(_ name: String, arguments: JSONValue, id: String? = nil) -> Reply {
            .toolCalls([ToolCall(id: id ?? "", name: name, arguments: arguments.serialized())], text: nil)
        }

        /// One tool call whose arguments are the raw text given (which need not be JSON).
        public static func toolCall(_ name: String, rawArguments: String, id: String? = nil) -> Reply {
            .toolCalls([ToolCall(id: id ?? "", name: name, arguments: rawArguments)], text: nil)
        }
    }

    private struct State {
        var replies: [Reply]
        var next = 0
        var requests: [ChatRequest] = []
        var callCounter = 0
    }

    public let provider = "scripted"
    public let name: String
    private let state: Mutex<State>

    public init(name: String = "scripted", _ replies: [Reply]) {
        self.name = name
        state = Mutex(State(replies: replies))
    }

    /// Every request received, in order.
    public var requests: [ChatRequest] { state.withLock { $0.requests } }

    /// How many scripted replies are still unused.
    public var remainingReplies: Int { state.withLock { $0.replies.count - $0.next } }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let (reply, firstCallNumber) = state.withLock { state -> (Reply?, Int) in
            state.requests.append(request)
            guard state.next < state.replies.count else { return (nil, 0) }
            let reply = state.replies[state.next]
            state.next += 1
            let first = state.callCounter
            if case .toolCalls(let calls, _) = reply { state.callCounter += calls.count }
            return (reply, first)
        }
        guard let reply else {
            throw ModelError(.invalidRequest, message: "ScriptedModel '\(name)' has no reply left for request \(requests.count).")
        }
        let input = UsageEstimate.tokens(in: request)
        switch reply {
        case .text(let text):
            return ChatResponse(
                model: name, message: AssistantMessage(text: text),
                usage: Usage(inputTokens: input, outputTokens: UsageEstimate.tokens(in: text)), finishReason: .stop)
        case .toolCalls(let calls, let text):
            var numbered = calls
            for index in numbered.indices where numbered[index].id.isEmpty {
                numbered[index].id = "call_\(firstCallNumber + index + 1)"
            }
            let output = numbered.reduce(UsageEstimate.tokens(in: text ?? "")) { $0 + UsageEstimate.tokens(in: $1.name + $1.arguments) }
            return ChatResponse(
                model: name, message: AssistantMessage(text: text, toolCalls: numbered),
                usage: Usage(inputTokens: input, outputTokens: output), finishReason: .toolCalls)
        case .response(let response):
            return response
        case .error(let error):
            throw error
        }
    }
}

