import KeelCore

/// A model that needs no script: it calls every tool once with arguments derived from the tool's
/// schema (so they are valid), then answers with what the tools returned.
///
/// Without tools it answers `Answer to: <the last user message>`; with a JSON Schema response
/// format it answers with a value that matches the schema. Replies and usage depend only on the
/// request, so the same request always gets the same reply.
public struct TestModel: ChatModel {
    public let provider = "test"
    public let name: String

    public init(name: String = "test") {
        self.name = name
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let input = UsageEstimate.tokens(in: request)
        let sinceLastUser = request.messages.reversed().prefix { if case .user = $0 { false } else { true } }
        let toolResults = sinceLastUser.reversed().compactMap { message -> ToolResult? in
            if case .tool(let result) = message { return result }
            return nil
        }
        if !request.tools.isEmpty, toolResults.isEmpty, request.toolChoice != .none {
            var tools = request.tools
            if case .tool(let name) = request.toolChoice { tools = tools.filter { $0.name == name } }
            let calls = tools.enumerated().map { index, tool in
                ToolCall(id: "test_call_\(index + 1)", name: tool.name, arguments: tool.parameters.exampleValue().serialized())
            }
            let output = calls.reduce(0) { $0 + UsageEstimate.tokens(in: $1.name + $1.arguments) }
            return ChatResponse(
                model: name, message: AssistantMessage(toolCalls: calls),
                usage: Usage(inputTokens: input, outputTokens: output), finishReason: .toolCalls)
        }
        let text: String
        if case .jsonSchema(_, let schema, _) = request.responseFormat {
            text = schema.exampleValue().serialized()
        } else if !toolResults.isEmpty {
            text = toolResults.map { "\($0.name): \($0.content)" }.joined(separator: "\n")
        } else {
            let prompt = request.messages.last { if case .user = $0 { true } else { false } }?.text ?? ""
            text = "Answer to: \(prompt)"
        }
        var output = UsageEstimate.tokens(in: text)
        var finish = FinishReason.stop
        var reply = text
        if output > request.maxOutputTokens {
            reply = String(text.prefix(request.maxOutputTokens * 4))
            output = request.maxOutputTokens
            finish = .length
        }
        return ChatResponse(model: name, message: AssistantMessage(text: reply), usage: Usage(inputTokens: input, outputTokens: output), finishReason: finish)
    }
}

extension JSONSchema {
    /// A value that satisfies the schema (patterns aside): the first allowed value, numbers
    /// within bounds, strings of an allowed length, and every property of an object.
    public func exampleValue() -> JSONValue {
        if let first = allowedValues?.first { return first }
        if let defaultValue { return defaultValue }
        if let alternative = anyOf.first { return alternative.exampleValue() }
        switch types.first(where: { $0 != .null }) ?? types.first {
        case .string?:
            switch format {
            case "date-time": return "2026-01-01T00:00:00Z"
            case "date": return "2026-01-01"
            case "uri": return "https://example.com"
            case "uuid": return "00000000-0000-4000-8000-000000000000"
            default: return .string(String(repeating: "a", count: max(minLength ?? 1, 1)))
            }
        case .integer?:
            return .number(exampleNumber(integer: true))
        case .number?:
            return .number(exampleNumber(integer: false))
        case .boolean?:
            return true
        case .array?:
            let element = items?.exampleValue() ?? "a"
            return .array(Array(repeating: element, count: max(minItems ?? 1, 1)))
        case .object?, nil:
            guard !properties.isEmpty || types.contains(.object) else { return .null }
            return .object(Dictionary(properties.map { ($0.name, $0.schema.exampleValue()) }, uniquingKeysWith: { $1 }))
        case .null?:
            return .null
        }
    }

    private func exampleNumber(integer: Bool) -> Double {
        var low = minimum ?? exclusiveMinimum.map { $0 + (integer ? 1 : 0.5) }
        let high = maximum ?? exclusiveMaximum.map { $0 - (integer ? 1 : 0.5) }
        if integer { low = low.map { $0.rounded(.up) } }
        switch (low, high) {
        case (let low?, let high?): return integer ? low : (low + high) / 2
        case (let low?, nil): return low
        case (nil, let high?): return min(1, integer ? high.rounded(.down) : high)
        case (nil, nil): return 1
        }
    }
}
