import KeelCore
import KeelHTTP

/// The Messages API's wire format: request bodies from a ``KeelCore/ChatRequest`` and
/// ``KeelCore/ChatResponse``s from replies, whole or streamed.
package enum MessagesWire {
    static let ephemeral: JSONValue = ["type": "ephemeral"]

    // MARK: Requests

    /// The body of `POST /messages`.
    ///
    /// System messages become the `system` field; the other messages become alternating `user`
    /// and `assistant` turns of content blocks (a tool result is a `tool_result` block of a user
    /// turn; consecutive messages of one role share a turn, as the API requires).
    package static func requestBody(
        _ request: ChatRequest, model: String, stream: Bool, caching: PromptCaching, thinkingBudget: Int? = nil
    ) -> JSONValue {
        let budget = thinkingBudget.map { min(max($0, 1_024), 1_000_000) }
        var body: [String: JSONValue] = [
            "model": .string(model), "max_tokens": .number(Double(max(1, request.maxOutputTokens).addingSaturating(budget ?? 0))),
        ]
        if let budget { body["thinking"] = ["type": "enabled", "budget_tokens": .number(Double(budget))] }
        let system = request.messages.compactMap { message -> String? in
            if case .system(let text) = message { return text }
            return nil
        }
        if !system.isEmpty {
            var block: [String: JSONValue] = ["type": "text", "text": .string(system.joined(separator: "\n\n"))]
            if caching.system { block["cache_control"] = ephemeral }
            body["system"] = [.object(block)]
        }
        var turns = turns(of: request.messages)
        if caching.conversation, var last = turns.last, var blocks = last["content"]?.arrayValue, var block = blocks.last?.objectValue {
            block["cache_control"] = ephemeral
            blocks[blocks.count - 1] = .object(block)
            last["content"] = .array(blocks)
            turns[turns.count - 1] = last
        }
        body["messages"] = .array(turns.map(JSONValue.object))
        let output = outputTool(of: request)
        if !request.tools.isEmpty || output != nil {
            var tools = (request.tools + (output.map { [$0] } ?? [])).map { tool -> JSONValue in
                ["name": .string(tool.name), "description": .string(tool.description), "input_schema": tool.parameters.jsonValue]
            }
            if caching.tools, case .object(var last) = tools[tools.count - 1] {
                last["cache_control"] = ephemeral
                tools[tools.count - 1] = .object(last)
            }
            body["tools"] = .array(tools)
            var choice = request.toolChoice
            // The output must come through its tool: alone, that tool; beside others, any of them.
            // Extended thinking allows neither, so the model is only offered it there.
            if let output, budget == nil { choice = request.tools.isEmpty || choice == .none ? .tool(output.name) : .required }
            body["tool_choice"] = toolChoice(choice, parallel: request.parallelToolCalls)
        }
        if let temperature = request.temperature, budget == nil { body["temperature"] = .number(temperature) }
        if !request.stop.isEmpty { body["stop_sequences"] = .array(request.stop.map(JSONValue.string)) }
        if stream { body["stream"] = true }
        return .object(body)
    }

    /// The body of `POST /messages/count_tokens`: the request's model, system prompt, messages,
    /// tools, tool choice and thinking — what its input is made of, without the reply's limits.
    package static func countTokensBody(_ request: ChatRequest, model: String, caching: PromptCaching, thinkingBudget: Int?) -> JSONValue {
        guard case .object(var body) = requestBody(request, model: model, stream: false, caching: caching, thinkingBudget: thinkingBudget) else {
            return [:]
        }
        for field in ["max_tokens", "temperature", "stop_sequences", "stream"] { body[field] = nil }
        return .object(body)
    }

    /// The tool a model answers through when the request asks for JSON of a schema: the Messages
    /// API has no response format, so the schema becomes a tool whose input is the answer.
    static func outputTool(of request: ChatRequest) -> ToolDefinition? {
        guard case .jsonSchema(let name, let schema, _) = request.responseFormat else { return nil }
        return ToolDefinition(
            name: name, description: "Give your final answer by calling this tool: its input is the answer. Call it once, when you are done.",
            parameters: schema)
    }

    /// `response` with a call of the output tool (see ``outputTool(of:)``) turned into the reply's
    /// text, which is the answer; other tool calls stay.
    package static func answeringThroughOutputTool(_ response: ChatResponse, request: ChatRequest) -> ChatResponse {
        guard let output = outputTool(of: request), let call = response.message.toolCalls.first(where: { $0.name == output.name }) else {
            return response
        }
        var answered = response
        answered.message.text = call.arguments
        answered.message.toolCalls.removeAll { $0.name == output.name }
        if answered.message.toolCalls.isEmpty, answered.finishReason == .toolCalls { answered.finishReason = .stop }
        return answered
    }

    /// `auto`, `any` (a tool must be called), `tool` (that one), or `none`; parallel tool use is
    /// turned off with `disable_parallel_tool_use`.
    static func toolChoice(_ choice: ToolChoice, parallel: Bool?) -> JSONValue {
        var object: [String: JSONValue]
        switch choice {
        case .auto: object = ["type": "auto"]
        case .required: object = ["type": "any"]
        case .tool(let name): object = ["type": "tool", "name": .string(name)]
        case .none: return ["type": "none"]
        }
        if parallel == false { object["disable_parallel_tool_use"] = true }
        return .object(object)
    }

    /// The conversation as alternating turns of content blocks.
    static func turns(of messages: [Message]) -> [[String: JSONValue]] {
        var turns: [[String: JSONValue]] = []
        func add(_ role: String, _ blocks: [JSONValue]) {
            guard !blocks.isEmpty else { return }
            if let last = turns.last, last["role"]?.stringValue == role, let existing = last["content"]?.arrayValue {
                turns[turns.count - 1]["content"] = .array(existing + blocks)
            } else {
                turns.append(["role": .string(role), "content": .array(blocks)])
            }
        }
        for message in messages {
            switch message {
            case .system:
                continue
            case .user(let text):
                add("user", [["type": "text", "text": .string(text)]])
            case .assistant(let reply):
                // Thinking first, as it came: the API checks its signatures when a turn has tool calls.
                var blocks: [JSONValue] = reply.thinking.map(thinkingBlock)
                if let text = reply.text, !text.isEmpty { blocks.append(["type": "text", "text": .string(text)]) }
                for call in reply.toolCalls {
                    blocks.append(["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": input(of: call)])
                }
                // An empty assistant turn is refused by the API; one with nothing to say says so.
                add("assistant", blocks.isEmpty ? [["type": "text", "text": "(no reply)"]] : blocks)
            case .tool(let result):
                var block: [String: JSONValue] = ["type": "tool_result", "tool_use_id": .string(result.callID), "content": .string(result.content)]
                if result.isError { block["is_error"] = true }
                add("user", [.object(block)])
            }
        }
        return turns
    }

    /// The thinking block a content block is (`thinking` or `redacted_thinking`), or `nil`.
    static func thinkingBlock(from block: JSONValue) -> ThinkingBlock? {
        switch block["type"]?.stringValue {
        case "thinking": ThinkingBlock(text: block["thinking"]?.stringValue ?? "", signature: block["signature"]?.stringValue)
        case "redacted_thinking": ThinkingBlock(text: "", redactedData: block["data"]?.stringValue ?? "")
        default: nil
        }
    }

    /// A thinking block as the API returned it: `thinking` with its signature, or `redacted_thinking`.
    static func thinkingBlock(_ block: ThinkingBlock) -> JSONValue {
        if let data = block.redactedData { return ["type": "redacted_thinking", "data": .string(data)] }
        var object: [String: JSONValue] = ["type": "thinking", "thinking": .string(block.text)]
        if let signature = block.signature { object["signature"] = .string(signature) }
        return .object(object)
    }

    /// A tool call's arguments as the object `tool_use.input` must be; arguments that are not a
    /// JSON object (the model wrote something else, and was told so by the tool's result) are
    /// kept as text under `arguments`, so that the transcript still says what was sent.
    static func input(of call: ToolCall) -> JSONValue {
        if call.arguments.isEmpty { return [:] }
        if let parsed = try? JSONValue(parsing: call.arguments), case .object = parsed { return parsed }
        return ["arguments": .string(call.arguments)]
    }

    // MARK: Replies

    /// Reads a non-streamed reply.
    package static func parseResponse(_ body: JSONValue, rateLimit: RateLimitSnapshot?) throws(ModelError) -> ChatResponse {
        if body["type"]?.stringValue == "error" { throw HTTPErrors.error(status: 200, body: body, rateLimit: rateLimit) }
        guard let content = body["content"]?.arrayValue else {
            throw ModelError(.malformedResponse, message: "The reply has no content array.")
        }
        var text: String?
        var calls: [ToolCall] = []
        var thinking: [ThinkingBlock] = []
        for (index, block) in content.enumerated() {
            switch block["type"]?.stringValue {
            case "thinking", "redacted_thinking":
                if let reasoning = thinkingBlock(from: block) { thinking.append(reasoning) }
            case "text":
                text = (text ?? "") + (block["text"]?.stringValue ?? "")
            case "tool_use":
                guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                    throw ModelError(.malformedResponse, message: "Content block \(index) is a tool_use without an id or a name.")
                }
                calls.append(ToolCall(id: id, name: name, arguments: (block["input"] ?? [:]).serialized()))
                guard calls.count <= ChatResponse.maximumToolCalls else {
                    throw ModelError(.malformedResponse, message: "The reply asks for more than \(ChatResponse.maximumToolCalls) tool calls.")
                }
            default:
                // Blocks of kinds added later are not part of the reply.
                continue
            }
        }
        return ChatResponse(
            id: body["id"]?.stringValue, model: body["model"]?.stringValue, message: AssistantMessage(text: text, toolCalls: calls, thinking: thinking),
            usage: try parseUsage(body["usage"]) ?? .zero, finishReason: finishReason(body["stop_reason"]?.stringValue, calls: calls),
            rateLimit: rateLimit)
    }

    /// `end_turn`, `stop_sequence`, `max_tokens`, `tool_use`, `refusal` as ``KeelCore/FinishReason``s.
    static func finishReason(_ value: String?, calls: [ToolCall]) -> FinishReason {
        switch value {
        case nil: calls.isEmpty ? .stop : .toolCalls
        case "refusal"?: .contentFilter
        case let value?: FinishReason(providerValue: value)
        }
    }

    /// The usage object: `input_tokens` are the tokens neither read from nor written to the cache,
    /// so the request's input is their sum with `cache_creation_input_tokens` and
    /// `cache_read_input_tokens`; the cache reads are ``KeelCore/Usage/cachedInputTokens`` and the
    /// cache writes ``KeelCore/Usage/cacheWriteInputTokens``. A count
    /// that is not a whole number from zero to ``KeelCore/Usage/plausibleMaximum`` makes the reply
    /// malformed.
    package static func parseUsage(_ value: JSONValue?) throws(ModelError) -> Usage? {
        guard let value, case .object = value else { return nil }
        func count(_ name: String) throws(ModelError) -> Int {
            guard let field = value[name], !field.isNull else { return 0 }
            guard let count = field.intValue, (0...Usage.plausibleMaximum).contains(count) else {
                throw ModelError(.malformedResponse, message: "The reply's usage has an implausible \(name): \(field.serialized().prefix(40)).")
            }
            return count
        }
        let input = try count("input_tokens")
        let written = try count("cache_creation_input_tokens")
        let read = try count("cache_read_input_tokens")
        return Usage(
            inputTokens: input.addingSaturating(written).addingSaturating(read), cachedInputTokens: read, outputTokens: try count("output_tokens"),
            cacheWriteInputTokens: written)
    }
}
