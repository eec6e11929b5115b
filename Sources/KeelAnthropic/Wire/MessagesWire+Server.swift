import KeelCore

// The server's side of the wire format, for the local test server of KeelApp (`keel chaos-llm`):
// a reply written as the Messages API writes it, and a request read as it would read it.
extension MessagesWire {
    /// The usage object of `usage`: the input neither read from nor written to the cache, apart
    /// from the cache reads and writes.
    static func usageBody(_ usage: Usage) -> JSONValue {
        let read = min(max(0, usage.cachedInputTokens), max(0, usage.inputTokens))
        let written = min(max(0, usage.cacheWriteInputTokens), max(0, usage.inputTokens) - read)
        return [
            "input_tokens": .number(Double(max(0, usage.inputTokens - read - written))),
            "cache_creation_input_tokens": .number(Double(written)), "cache_read_input_tokens": .number(Double(read)),
            "output_tokens": .number(Double(usage.outputTokens)),
        ]
    }

    static func stopReason(_ reason: FinishReason) -> String {
        switch reason {
        case .stop: "end_turn"
        case .length: "max_tokens"
        case .toolCalls: "tool_use"
        case .contentFilter: "refusal"
        case .other(let value): value
        }
    }

    /// A non-streamed reply body.
    package static func responseBody(_ response: ChatResponse, model: String) -> JSONValue {
        var content: [JSONValue] = response.message.thinking.map(thinkingBlock)
        if let text = response.message.text, !text.isEmpty { content.append(["type": "text", "text": .string(text)]) }
        for call in response.message.toolCalls {
            content.append(["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": input(of: call)])
        }
        return [
            "id": .string(response.id ?? "msg_keel"), "type": "message", "role": "assistant", "model": .string(model), "content": .array(content),
            "stop_reason": .string(stopReason(response.finishReason)), "stop_sequence": nil, "usage": usageBody(response.usage),
        ]
    }

    /// The events of a streamed reply, each the JSON of one `data:` line: the text in two pieces
    /// and each tool call's input in two, as a server splits them.
    package static func streamEvents(_ response: ChatResponse, model: String) -> [JSONValue] {
        var start = usageBody(response.usage).objectValue ?? [:]
        start["output_tokens"] = 1
        var events: [JSONValue] = [[
            "type": "message_start",
            "message": [
                "id": .string(response.id ?? "msg_keel"), "type": "message", "role": "assistant", "model": .string(model), "content": [],
                "stop_reason": nil, "stop_sequence": nil, "usage": .object(start),
            ],
        ]]
        var index = 0
        func halves(_ text: String) -> [String] {
            let middle = text.index(text.startIndex, offsetBy: text.count / 2)
            return [String(text[..<middle]), String(text[middle...])].filter { !$0.isEmpty }
        }
        for block in response.message.thinking {
            if let data = block.redactedData {
                events.append(["type": "content_block_start", "index": .number(Double(index)), "content_block": ["type": "redacted_thinking", "data": .string(data)]])
            } else {
                events.append(["type": "content_block_start", "index": .number(Double(index)), "content_block": ["type": "thinking", "thinking": ""]])
                for piece in halves(block.text) {
                    events.append(["type": "content_block_delta", "index": .number(Double(index)), "delta": ["type": "thinking_delta", "thinking": .string(piece)]])
                }
                if let signature = block.signature {
                    events.append(["type": "content_block_delta", "index": .number(Double(index)), "delta": ["type": "signature_delta", "signature": .string(signature)]])
                }
            }
            events.append(["type": "content_block_stop", "index": .number(Double(index))])
            index += 1
        }
        if let text = response.message.text, !text.isEmpty {
            events.append(["type": "content_block_start", "index": .number(Double(index)), "content_block": ["type": "text", "text": ""]])
            for piece in halves(text) {
                events.append(["type": "content_block_delta", "index": .number(Double(index)), "delta": ["type": "text_delta", "text": .string(piece)]])
            }
            events.append(["type": "content_block_stop", "index": .number(Double(index))])
            index += 1
        }
        events.append(["type": "ping"])
        for call in response.message.toolCalls {
            events.append([
                "type": "content_block_start", "index": .number(Double(index)),
                "content_block": ["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": [:]],
            ])
            for piece in halves(input(of: call).serialized()) {
                events.append([
                    "type": "content_block_delta", "index": .number(Double(index)), "delta": ["type": "input_json_delta", "partial_json": .string(piece)],
                ])
            }
            events.append(["type": "content_block_stop", "index": .number(Double(index))])
            index += 1
        }
        events.append([
            "type": "message_delta", "delta": ["stop_reason": .string(stopReason(response.finishReason)), "stop_sequence": nil],
            "usage": ["output_tokens": .number(Double(response.usage.outputTokens))],
        ])
        events.append(["type": "message_stop"])
        return events
    }

    /// Reads a request body as a Messages API server would; throws ``KeelCore/ModelError/Code/invalidRequest``.
    package static func parseRequest(_ body: JSONValue) throws(ModelError) -> ChatRequest {
        guard body["model"]?.stringValue != nil else { throw ModelError(.invalidRequest, message: "model: Field required") }
        guard let maxTokens = body["max_tokens"]?.intValue else { throw ModelError(.invalidRequest, message: "max_tokens: Field required") }
        guard let turns = body["messages"]?.arrayValue else { throw ModelError(.invalidRequest, message: "messages: Field required") }
        var messages: [Message] = []
        switch body["system"] {
        case .string(let text)?: messages.append(.system(text))
        case .array(let blocks)?: messages.append(.system(blocks.compactMap { $0["text"]?.stringValue }.joined(separator: "\n\n")))
        default: break
        }
        var names: [String: String] = [:]
        for turn in turns {
            let blocks: [JSONValue] = turn["content"]?.stringValue.map { [["type": "text", "text": .string($0)]] } ?? turn["content"]?.arrayValue ?? []
            switch turn["role"]?.stringValue {
            case "user":
                for block in blocks {
                    if block["type"]?.stringValue == "tool_result", let id = block["tool_use_id"]?.stringValue {
                        let content = block["content"]?.stringValue ?? block["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
                        messages.append(.tool(ToolResult(callID: id, name: names[id] ?? "", content: content, isError: block["is_error"]?.boolValue ?? false)))
                    } else if let text = block["text"]?.stringValue {
                        messages.append(.user(text))
                    }
                }
            case "assistant":
                var text: String?
                var calls: [ToolCall] = []
                var thinking: [ThinkingBlock] = []
                for block in blocks {
                    if let reasoning = thinkingBlock(from: block) {
                        thinking.append(reasoning)
                    } else if block["type"]?.stringValue == "tool_use", let id = block["id"]?.stringValue, let name = block["name"]?.stringValue {
                        names[id] = name
                        calls.append(ToolCall(id: id, name: name, arguments: (block["input"] ?? [:]).serialized()))
                    } else if let piece = block["text"]?.stringValue {
                        text = (text ?? "") + piece
                    }
                }
                messages.append(.assistant(AssistantMessage(text: text, toolCalls: calls, thinking: thinking)))
            default:
                throw ModelError(.invalidRequest, message: "messages: a turn's role must be user or assistant")
            }
        }
        let tools = (body["tools"]?.arrayValue ?? []).compactMap { tool -> ToolDefinition? in
            guard let name = tool["name"]?.stringValue else { return nil }
            return ToolDefinition(name: name, description: tool["description"]?.stringValue ?? "", parameters: JSONSchema(jsonValue: tool["input_schema"] ?? [:]))
        }
        var request = ChatRequest(messages: messages, tools: tools, maxOutputTokens: maxTokens)
        switch body["tool_choice"]?["type"]?.stringValue {
        case "any": request.toolChoice = .required
        case "none": request.toolChoice = .none
        case "tool": request.toolChoice = body["tool_choice"]?["name"]?.stringValue.map(ToolChoice.tool) ?? .auto
        default: request.toolChoice = .auto
        }
        if body["tool_choice"]?["disable_parallel_tool_use"]?.boolValue == true { request.parallelToolCalls = false }
        request.temperature = body["temperature"]?.doubleValue
        request.stop = body["stop_sequences"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return request
    }
}
