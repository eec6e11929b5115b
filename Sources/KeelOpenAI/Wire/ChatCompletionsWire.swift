import KeelCore
import KeelHTTP

/// The Chat Completions wire format, both ways: the client writes requests and reads responses,
/// and KeelTesting's local server reads requests and writes responses.
package enum ChatCompletionsWire {
    // MARK: Requests

    /// The JSON body for a request to `model`.
    package static func requestBody(
        _ request: ChatRequest, model: String, stream: Bool, includeStreamUsage: Bool,
        maxTokensParameter: OpenAIConfiguration.MaxTokensParameter
    ) -> JSONValue {
        var body: [String: JSONValue] = [
            "model": .string(model),
            "messages": .array(request.messages.map(encodeMessage)),
            maxTokensParameter.rawValue: .number(Double(request.maxOutputTokens)),
        ]
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map(encodeTool))
            body["tool_choice"] = encodeToolChoice(request.toolChoice)
            if let parallel = request.parallelToolCalls { body["parallel_tool_calls"] = .bool(parallel) }
        }
        if let temperature = request.temperature { body["temperature"] = .number(temperature) }
        switch request.responseFormat {
        case .text: break
        case .jsonObject: body["response_format"] = ["type": "json_object"]
        case .jsonSchema(let name, let schema, let strict):
            body["response_format"] = [
                "type": "json_schema",
                "json_schema": ["name": .string(name), "schema": schema.jsonValue, "strict": .bool(strict)],
            ]
        }
        if !request.stop.isEmpty { body["stop"] = .array(request.stop.map(JSONValue.string)) }
        if stream {
            body["stream"] = true
            if includeStreamUsage { body["stream_options"] = ["include_usage": true] }
        }
        return .object(body)
    }

    static func encodeMessage(_ message: Message) -> JSONValue {
        switch message {
        case .system(let text): return ["role": "system", "content": .string(text)]
        case .user(let text): return ["role": "user", "content": .string(text)]
        case .assistant(let reply):
            var object: [String: JSONValue] = ["role": "assistant", "content": reply.text.map(JSONValue.string) ?? .null]
            if !reply.toolCalls.isEmpty {
                object["tool_calls"] = .array(reply.toolCalls.map { call in
                    ["id": .string(call.id), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                })
            }
            return .object(object)
        case .tool(let result):
            return ["role": "tool", "tool_call_id": .string(result.callID), "content": .string(result.content)]
        }
    }

    static func encodeTool(_ tool: ToolDefinition) -> JSONValue {
        var function: [String: JSONValue] = [
            "name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters.jsonValue,
        ]
        if tool.strict { function["strict"] = true }
        return ["type": "function", "function": .object(function)]
    }

    static func encodeToolChoice(_ choice: ToolChoice) -> JSONValue {
        switch choice {
        case .auto: "auto"
        case .none: "none"
        case .required: "required"
        case .tool(let name): ["type": "function", "function": ["name": .string(name)]]
        }
    }

    // MARK: Responses

    /// Reads a non-streamed response body.
    package static func parseResponse(_ body: JSONValue, rateLimit: RateLimitSnapshot?) throws(ModelError) -> ChatResponse {
        if let error = body["error"], !error.isNull {
            throw HTTPErrors.error(status: 200, body: body, rateLimit: rateLimit)
        }
        guard let choice = body["choices"]?[0], let message = choice["message"] else {
            throw ModelError(.malformedResponse, message: "The response has no choices[0].message.")
        }
        var toolCalls: [ToolCall] = []
        let rawCalls = message["tool_calls"]?.arrayValue ?? []
        guard rawCalls.count <= ChatResponse.maximumToolCalls else {
            throw ModelError(.malformedResponse, message: "The reply asks for \(rawCalls.count) tool calls, more than the \(ChatResponse.maximumToolCalls) allowed.")
        }
        for (index, raw) in rawCalls.enumerated() {
            guard let function = raw["function"], let name = function["name"]?.stringValue else {
                throw ModelError(.malformedResponse, message: "Tool call \(index) has no function name.")
            }
            let id = raw["id"]?.stringValue ?? "call_\(index)"
            toolCalls.append(ToolCall(id: id, name: name, arguments: argumentsText(function["arguments"])))
        }
        let text = message["content"]?.stringValue ?? message["refusal"]?.stringValue
        let reason = choice["finish_reason"]?.stringValue.map(FinishReason.init(providerValue:)) ?? (toolCalls.isEmpty ? .stop : .toolCalls)
        return ChatResponse(
            id: body["id"]?.stringValue, model: body["model"]?.stringValue,
            message: AssistantMessage(text: text, toolCalls: toolCalls), usage: try parseUsage(body["usage"]) ?? .zero,
            finishReason: reason, rateLimit: rateLimit)
    }

    /// Some servers send arguments as an object rather than as JSON text.
    static func argumentsText(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text): text
        case .none, .null?: ""
        case .some(let other): other.serialized()
        }
    }

    /// The usage object of a reply; a count that is not a whole number from zero to
    /// ``KeelCore/Usage/plausibleMaximum`` makes the reply malformed (a server claiming 2⁵³ tokens
    /// must not reach budgets and ledgers).
    package static func parseUsage(_ value: JSONValue?) throws(ModelError) -> Usage? {
        guard let value, case .object = value else { return nil }
        func count(_ field: JSONValue?, _ name: String) throws(ModelError) -> Int {
            guard let field, !field.isNull else { return 0 }
            guard let count = field.intValue, (0...Usage.plausibleMaximum).contains(count) else {
                throw ModelError(.malformedResponse, message: "The reply's usage has an implausible \(name): \(field.serialized().prefix(40)).")
            }
            return count
        }
        return Usage(
            inputTokens: try count(value["prompt_tokens"], "prompt_tokens"),
            cachedInputTokens: try count(value["prompt_tokens_details"]?["cached_tokens"], "cached_tokens"),
            outputTokens: try count(value["completion_tokens"], "completion_tokens"),
            reasoningTokens: try count(value["completion_tokens_details"]?["reasoning_tokens"], "reasoning_tokens"))
    }

    /// Applies one streamed chunk to the accumulator and reports its deltas.
    package static func applyChunk(
        _ chunk: JSONValue, to accumulator: inout ChatResponseAccumulator, rateLimit: RateLimitSnapshot?
    ) throws(ModelError) -> [ChatStreamEvent] {
        if let error = chunk["error"], !error.isNull {
            throw HTTPErrors.error(status: 200, body: chunk, rateLimit: rateLimit)
        }
        if accumulator.id == nil { accumulator.id = chunk["id"]?.stringValue }
        if accumulator.model == nil { accumulator.model = chunk["model"]?.stringValue }
        if let usage = try parseUsage(chunk["usage"]) { accumulator.usage = usage }
        var events: [ChatStreamEvent] = []
        guard let choice = chunk["choices"]?[0] else { return events }
        if let reason = choice["finish_reason"]?.stringValue { accumulator.finishReason = FinishReason(providerValue: reason) }
        guard let delta = choice["delta"] else { return events }
        if let text = delta["content"]?.stringValue, !text.isEmpty {
            accumulator.appendText(text)
            events.append(.textDelta(text))
        }
        for (position, raw) in (delta["tool_calls"]?.arrayValue ?? []).enumerated() {
            let index = raw["index"]?.intValue ?? position
            let function = raw["function"]
            let argumentsDelta = argumentsText(function?["arguments"])
            let id = raw["id"]?.stringValue
            let name = function?["name"]?.stringValue
            accumulator.appendToolCall(index: index, id: id, name: name, argumentsDelta: argumentsDelta)
            guard accumulator.toolCallCount <= ChatResponse.maximumToolCalls else {
                throw ModelError(.malformedResponse, message: "The stream asks for more than \(ChatResponse.maximumToolCalls) tool calls.")
            }
            events.append(.toolCallDelta(index: index, id: id, name: name, argumentsDelta: argumentsDelta))
        }
        return events
    }

    // MARK: Server side (KeelTesting's local server)

    /// A request as a server reads it: the model named, whether to stream, and the request.
    package struct IncomingRequest: Sendable {
        package var model: String
        package var stream: Bool
        package var includeUsage: Bool
        package var request: ChatRequest
    }

    /// Reads a request body the way an OpenAI-compatible server would.
    package static func parseRequest(_ body: JSONValue) throws(ModelError) -> IncomingRequest {
        guard let model = body["model"]?.stringValue else { throw ModelError(.invalidRequest, message: "'model' is required.") }
        guard let rawMessages = body["messages"]?.arrayValue else { throw ModelError(.invalidRequest, message: "'messages' is required.") }
        var messages: [Message] = []
        for raw in rawMessages {
            let content = contentText(raw["content"])
            switch raw["role"]?.stringValue {
            case "system", "developer": messages.append(.system(content ?? ""))
            case "user": messages.append(.user(content ?? ""))
            case "assistant":
                let calls = (raw["tool_calls"]?.arrayValue ?? []).map { call in
                    ToolCall(
                        id: call["id"]?.stringValue ?? "", name: call["function"]?["name"]?.stringValue ?? "",
                        arguments: argumentsText(call["function"]?["arguments"]))
                }
                messages.append(.assistant(AssistantMessage(text: content, toolCalls: calls)))
            case "tool":
                messages.append(.tool(ToolResult(callID: raw["tool_call_id"]?.stringValue ?? "", name: "", content: content ?? "")))
            default:
                throw ModelError(.invalidRequest, message: "A message has an unknown role.")
            }
        }
        let tools = (body["tools"]?.arrayValue ?? []).compactMap { raw -> ToolDefinition? in
            guard let function = raw["function"], let name = function["name"]?.stringValue else { return nil }
            return ToolDefinition(
                name: name, description: function["description"]?.stringValue ?? "",
                parameters: JSONSchema(jsonValue: function["parameters"] ?? [:]), strict: function["strict"]?.boolValue ?? false)
        }
        var toolChoice = ToolChoice.auto
        switch body["tool_choice"] {
        case .string("none")?: toolChoice = .none
        case .string("required")?: toolChoice = .required
        case .object?: if let name = body["tool_choice"]?["function"]?["name"]?.stringValue { toolChoice = .tool(name) }
        default: break
        }
        let maxTokens = body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue ?? 4_096
        let request = ChatRequest(
            messages: messages, tools: tools, toolChoice: toolChoice, parallelToolCalls: body["parallel_tool_calls"]?.boolValue,
            maxOutputTokens: maxTokens, temperature: body["temperature"]?.doubleValue,
            stop: body["stop"]?.arrayValue?.compactMap(\.stringValue) ?? body["stop"]?.stringValue.map { [$0] } ?? [])
        return IncomingRequest(
            model: model, stream: body["stream"]?.boolValue ?? false,
            includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false, request: request)
    }

    /// `content` may be text or a list of parts; the text parts are joined.
    static func contentText(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .array(let parts)?: return parts.compactMap { $0["text"]?.stringValue }.joined()
        default: return nil
        }
    }

    /// A non-streamed response body.
    package static func responseBody(_ response: ChatResponse, model: String, created: Int) -> JSONValue {
        var message: [String: JSONValue] = ["role": "assistant", "content": response.message.text.map(JSONValue.string) ?? .null]
        if !response.message.toolCalls.isEmpty {
            message["tool_calls"] = .array(response.message.toolCalls.map { call in
                ["id": .string(call.id), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
            })
        }
        return [
            "id": .string(response.id ?? "chatcmpl-keel"), "object": "chat.completion", "created": .number(Double(created)),
            "model": .string(response.model ?? model),
            "choices": [["index": 0, "message": .object(message), "finish_reason": .string(response.finishReason.description)]],
            "usage": usageBody(response.usage),
        ]
    }

    package static func usageBody(_ usage: Usage) -> JSONValue {
        [
            "prompt_tokens": .number(Double(usage.inputTokens)), "completion_tokens": .number(Double(usage.outputTokens)),
            "total_tokens": .number(Double(usage.totalTokens)),
            "prompt_tokens_details": ["cached_tokens": .number(Double(usage.cachedInputTokens))],
            "completion_tokens_details": ["reasoning_tokens": .number(Double(usage.reasoningTokens))],
        ]
    }

    /// The chunks of a streamed response: the text in pieces of at most `textPieceSize`
    /// characters, each tool call's name then its arguments in pieces, the finish reason, and the
    /// usage chunk when asked for.
    package static func streamChunks(_ response: ChatResponse, model: String, created: Int, includeUsage: Bool, textPieceSize: Int = 16) -> [JSONValue] {
        let id = JSONValue.string(response.id ?? "chatcmpl-keel")
        let modelValue = JSONValue.string(response.model ?? model)
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> JSONValue {
            [
                "id": id, "object": "chat.completion.chunk", "created": .number(Double(created)), "model": modelValue,
                "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
            ]
        }
        var chunks: [JSONValue] = [chunk(["role": "assistant", "content": ""])]
        if let text = response.message.text {
            for piece in text.pieces(ofLength: textPieceSize) { chunks.append(chunk(["content": .string(piece)])) }
        }
        for (index, call) in response.message.toolCalls.enumerated() {
            chunks.append(chunk(["tool_calls": [[
                "index": .number(Double(index)), "id": .string(call.id), "type": "function",
                "function": ["name": .string(call.name), "arguments": ""],
            ]]]))
            for piece in call.arguments.pieces(ofLength: textPieceSize) {
                chunks.append(chunk(["tool_calls": [["index": .number(Double(index)), "function": ["arguments": .string(piece)]]]]))
            }
        }
        chunks.append(chunk([:], finish: .string(response.finishReason.description)))
        if includeUsage {
            chunks.append([
                "id": id, "object": "chat.completion.chunk", "created": .number(Double(created)), "model": modelValue,
                "choices": [], "usage": usageBody(response.usage),
            ])
        }
        return chunks
    }
}

extension String {
    /// The string cut into pieces of at most `length` characters.
    fileprivate func pieces(ofLength length: Int) -> [String] {
        guard !isEmpty else { return [] }
        var pieces: [String] = []
        var index = startIndex
        while index < endIndex {
            let end = self.index(index, offsetBy: max(1, length), limitedBy: endIndex) ?? endIndex
            pieces.append(String(self[index..<end]))
            index = end
        }
        return pieces
    }
}
