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
    /// JSON that matches `schema`; `name` identifies it to the provider.
    case jsonSchema(name: String, schema: JSONSchema, strict: Bool)
}
