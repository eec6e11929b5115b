import KeelCore
import KeelHTTP

/// A streamed reply as its events arrive: `message_start`, `content_block_start`, `_delta` and
/// `_stop` (text, tool input as JSON pieces, thinking), `message_delta` (stop reason and usage),
/// `message_stop`, `ping` and `error`.
package struct MessagesStream {
    private var id: String?
    private var model: String?
    private var text: String?
    /// Tool calls in the order their blocks started: id, name, the input's JSON so far.
    private var calls: [(id: String, name: String, input: String, start: JSONValue)] = []
    /// Which tool call a content block is, by block index.
    private var callOfBlock: [Int: Int] = [:]
    /// Thinking blocks in the order they started, and which one a content block is.
    private var thinking: [ThinkingBlock] = []
    private var thinkingOfBlock: [Int: Int] = [:]
    private var usage: [String: JSONValue] = [:]
    private var stopReason: String?
    /// Whether `message_stop` arrived: the reply is complete.
    package private(set) var isComplete = false
    /// Whether any usage arrived (`message_start` carries the input's).
    package var hasUsage: Bool { !usage.isEmpty }

    package init() {}

    /// Applies one event's JSON and returns the deltas it carries.
    package mutating func apply(_ event: JSONValue, rateLimit: RateLimitSnapshot?) throws(ModelError) -> [ChatStreamEvent] {
        switch event["type"]?.stringValue {
        case "message_start":
            let message = event["message"]
            id = message?["id"]?.stringValue
            model = message?["model"]?.stringValue
            merge(message?["usage"])
        case "content_block_start":
            guard let index = event["index"]?.intValue, let block = event["content_block"] else {
                throw ModelError(.malformedResponse, message: "A content_block_start has no index or block.")
            }
            switch block["type"]?.stringValue {
            case "tool_use":
                guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                    throw ModelError(.malformedResponse, message: "A streamed tool_use block has no id or name.")
                }
                guard calls.count < ChatResponse.maximumToolCalls else {
                    throw ModelError(.malformedResponse, message: "The stream asks for more than \(ChatResponse.maximumToolCalls) tool calls.")
                }
                callOfBlock[index] = calls.count
                calls.append((id, name, "", block["input"] ?? [:]))
                return [.toolCallDelta(index: calls.count - 1, id: id, name: name, argumentsDelta: "")]
            case "text":
                if let start = block["text"]?.stringValue, !start.isEmpty { return appendText(start) }
            case "thinking", "redacted_thinking":
                if let reasoning = MessagesWire.thinkingBlock(from: block) {
                    thinkingOfBlock[index] = thinking.count
                    thinking.append(reasoning)
                }
            default:
                break
            }
        case "content_block_delta":
            guard let delta = event["delta"] else { return [] }
            switch delta["type"]?.stringValue {
            case "text_delta":
                return appendText(delta["text"]?.stringValue ?? "")
            case "input_json_delta":
                guard let index = event["index"]?.intValue, let call = callOfBlock[index] else {
                    throw ModelError(.malformedResponse, message: "Tool input arrived for a block that is not a tool call.")
                }
                let piece = delta["partial_json"]?.stringValue ?? ""
                calls[call].input += piece
                return piece.isEmpty ? [] : [.toolCallDelta(index: call, id: nil, name: nil, argumentsDelta: piece)]
            case "thinking_delta", "signature_delta":
                // Reasoning is kept with the reply (and sent back on the next turn), not streamed as its text.
                guard let index = event["index"]?.intValue, let block = thinkingOfBlock[index] else {
                    throw ModelError(.malformedResponse, message: "A thinking delta arrived for a block that is not thinking.")
                }
                if let piece = delta["thinking"]?.stringValue { thinking[block].text += piece }
                if let signature = delta["signature"]?.stringValue { thinking[block].signature = (thinking[block].signature ?? "") + signature }
            default:
                break
            }
        case "message_delta":
            if let reason = event["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
            merge(event["usage"])
        case "message_stop":
            isComplete = true
        case "error":
            throw HTTPErrors.error(status: 200, body: event, rateLimit: rateLimit)
        default:
            // `ping`, `content_block_stop`, and event types added later.
            break
        }
        return []
    }

    private mutating func appendText(_ piece: String) -> [ChatStreamEvent] {
        guard !piece.isEmpty else { return [] }
        text = (text ?? "") + piece
        return [.textDelta(piece)]
    }

    /// Later usage objects carry the counts so far: each field replaces the earlier one.
    private mutating func merge(_ value: JSONValue?) {
        guard let fields = value?.objectValue else { return }
        for (name, field) in fields where !field.isNull { usage[name] = field }
    }

    /// The complete reply.
    package func response(rateLimit: RateLimitSnapshot?) throws(ModelError) -> ChatResponse {
        let toolCalls = calls.map { call in
            ToolCall(id: call.id, name: call.name, arguments: call.input.isEmpty ? call.start.serialized() : call.input)
        }
        return ChatResponse(
            id: id, model: model, message: AssistantMessage(text: text, toolCalls: toolCalls, thinking: thinking),
            usage: try MessagesWire.parseUsage(.object(usage)) ?? .zero, finishReason: MessagesWire.finishReason(stopReason, calls: toolCalls),
            rateLimit: rateLimit)
    }

    /// The usage so far, for billing a stream cut short.
    package var usageSoFar: Usage? { try? MessagesWire.parseUsage(.object(usage)) }
}
