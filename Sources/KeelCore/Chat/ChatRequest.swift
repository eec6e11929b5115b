/// Everything a model call sends: the transcript, the tools, and the limits.
public struct ChatRequest: Sendable, Hashable {
    /// The conversation, system instructions first.
    public var messages: [Message]
    /// The tools the model may call.
    public var tools: [ToolDefinition]
    /// Whether and which tool the model must call. Default: ``ToolChoice/auto``.
    public var toolChoice: ToolChoice
    /// Whether the model may ask for several tool calls in one reply; `nil` leaves it to the
    /// provider (which allows it). Default: `nil`.
    public var parallelToolCalls: Bool?
    /// The most tokens the reply may have. Every Keel model call sets one. Default: 1,500.
    public var maxOutputTokens: Int
    /// Sampling temperature; `nil` leaves it to the provider. Default: `nil`.
    public var temperature: Double?
    /// Free text, any JSON object, or JSON matching a schema. Default: ``ResponseFormat/text``.
    public var responseFormat: ResponseFormat
    /// Sequences at which the model stops. Default: none.
    public var stop: [String]

    public init(
        messages: [Message], tools: [ToolDefinition] = [], toolChoice: ToolChoice = .auto,
        parallelToolCalls: Bool? = nil, maxOutputTokens: Int = 1_500, temperature: Double? = nil,
        responseFormat: ResponseFormat = .text, stop: [String] = []
    ) {
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.parallelToolCalls = parallelToolCalls
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
        self.responseFormat = responseFormat
        self.stop = stop
    }
}

/// A tool as the model sees it: name, description and the JSON Schema of its arguments.
public struct ToolDefinition: Sendable, Hashable, Codable {
    public var name: String
    public var description: String
    public var parameters: JSONSchema
    /// Ask the provider to guarantee arguments that match the schema exactly (OpenAI's strict mode,
    /// which needs every property required and no additional properties). Default: `false`.
    public var strict: Bool

    public init(name: String, description: String, parameters: JSONSchema, strict: Bool = false) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
    }
}

/// Whether and which tool the model must call.
public enum ToolChoice: Sendable, Hashable, Codable {
    /// The model decides.
    case auto
    /// The model must not call tools.
    case none
    /// The model must call at least one tool.
    case required
    /// The model must call the named tool.
    case tool(String)
}

/// The shape of the model's text reply.
public enum ResponseFormat: Sendable, Hashable, Codable {
    /// Free text.
    case text
    /// Any JSON object.
    case jsonObject
    /// JSON that matches `schema`; `name` identifies it to the provider. (Indirect: a schema is
    /// large, and every request carries a format through every async frame it passes.)
    indirect case jsonSchema(name: String, schema: JSONSchema, strict: Bool)
}

extension ChatRequest {
    /// A quick estimate of the request's input tokens — about four bytes a token of every message,
    /// tool call and tool schema, plus a little per message — for pacing, where a tokenizer would
    /// cost more than it saves. Budgets count with a real tokenizer instead.
    public var estimatedInputTokens: Int {
        func tokens(_ text: String) -> Int { text.isEmpty ? 0 : (text.utf8.count + 3) / 4 }
        var total = 3
        for message in messages {
            total += 4 + tokens(message.text ?? "")
            if case .assistant(let reply) = message {
                for call in reply.toolCalls { total += tokens(call.name) + tokens(call.arguments) }
            }
        }
        for tool in tools {
            total += tokens(tool.name) + tokens(tool.description) + tokens(tool.parameters.jsonValue.serialized())
        }
        return total
    }

    /// ``estimatedInputTokens`` plus the maximum output: what a provider counts against a
    /// tokens-per-minute limit.
    public var estimatedRateLimitTokens: Int { estimatedInputTokens + maxOutputTokens }
}
