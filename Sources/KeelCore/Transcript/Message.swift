/// One entry of a conversation with a model.
///
/// Messages are `Codable` with a `role` field (`system`, `user`, `assistant`, `tool`), which is the
/// form the journal stores.
public enum Message: Sendable, Hashable {
    /// Instructions for the model.
    case system(String)
    /// What the user said.
    case user(String)
    /// What the model answered: text, tool calls, or both.
    case assistant(AssistantMessage)
    /// The result of one tool call, answering the assistant message that asked for it.
    case tool(ToolResult)

    /// The role name used on the wire and in the journal.
    public var role: String {
        switch self {
        case .system: "system"
        case .user: "user"
        case .assistant: "assistant"
        case .tool: "tool"
        }
    }

    /// The text of the message, if it has any (a tool result's content counts).
    public var text: String? {
        switch self {
        case .system(let text), .user(let text): text
        case .assistant(let message): message.text
        case .tool(let result): result.content
        }
    }
}

/// A model's reply: text, tool calls, or both — and the reasoning it showed before them.
public struct AssistantMessage: Sendable, Hashable, Codable {
    /// The text of the reply; `nil` when the model only called tools.
    public var text: String?
    /// The tool calls the model asked for, in order.
    public var toolCalls: [ToolCall]
    /// The reasoning blocks the model showed before its reply (Anthropic's extended thinking),
    /// with the provider's signatures: kept in the transcript and sent back as they came on the
    /// next turns, as the provider requires when a turn has tool calls. Empty for most models.
    public var thinking: [ThinkingBlock]

    public init(text: String? = nil, toolCalls: [ToolCall] = []) {
        self.init(text: text, toolCalls: toolCalls, thinking: [])
    }

    /// A reply with the reasoning shown before it.
    public init(text: String? = nil, toolCalls: [ToolCall] = [], thinking: [ThinkingBlock]) {
        self.text = text
        self.toolCalls = toolCalls
        self.thinking = thinking
    }

    private enum CodingKeys: String, CodingKey {
        case text, toolCalls, thinking
    }

    // Written by hand so that replies without thinking (every journal written before it existed
    // included) read and write exactly as before.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        text = try container.decodeIfPresent(String.self, forKey: .text)
        toolCalls = try container.decodeIfPresent([ToolCall].self, forKey: .toolCalls) ?? []
        thinking = try container.decodeIfPresent([ThinkingBlock].self, forKey: .thinking) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(text, forKey: .text)
        try container.encode(toolCalls, forKey: .toolCalls)
        if !thinking.isEmpty { try container.encode(thinking, forKey: .thinking) }
    }
}

/// One block of a model's shown reasoning, as its provider returned it.
public struct ThinkingBlock: Sendable, Hashable, Codable {
    /// The reasoning as the model showed it (empty for a redacted block).
    public var text: String
    /// The provider's signature over the block, which it checks when the block is sent back.
    public var signature: String?
    /// The encrypted content of a block the provider redacted, sent back as it came.
    public var redactedData: String?

    public init(text: String, signature: String? = nil, redactedData: String? = nil) {
        self.text = text
        self.signature = signature
        self.redactedData = redactedData
    }
}

/// A model's request to call one tool.
public struct ToolCall: Sendable, Hashable, Codable {
    /// The provider's id for the call; the tool result quotes it back.
    public var id: String
    /// The tool's name, exactly as the model wrote it (it may not exist).
    public var name: String
    /// The arguments as the JSON text the model wrote (it may not be JSON at all).
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// The answer to one ``ToolCall``.
public struct ToolResult: Sendable, Hashable, Codable {
    /// The ``ToolCall/id`` this result answers.
    public var callID: String
    /// The tool's name as the call gave it.
    public var name: String
    /// What the model reads: the tool's output, or why the call failed.
    public var content: String
    /// Whether the call failed (unknown tool, bad arguments, a thrown error, a timeout, a refusal).
    public var isError: Bool
    /// Whether the result came from a cache instead of a call.
    public var isCacheHit: Bool

    public init(callID: String, name: String, content: String, isError: Bool = false, isCacheHit: Bool = false) {
        self.callID = callID
        self.name = name
        self.content = content
        self.isError = isError
        self.isCacheHit = isCacheHit
    }

    private enum CodingKeys: String, CodingKey {
        case callID, name, content, isError, isCacheHit
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        callID = try container.decode(String.self, forKey: .callID)
        name = try container.decode(String.self, forKey: .name)
        content = try container.decode(String.self, forKey: .content)
        isError = try container.decodeIfPresent(Bool.self, forKey: .isError) ?? false
        isCacheHit = try container.decodeIfPresent(Bool.self, forKey: .isCacheHit) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(callID, forKey: .callID)
        try container.encode(name, forKey: .name)
        try container.encode(content, forKey: .content)
        try container.encode(isError, forKey: .isError)
        if isCacheHit { try container.encode(true, forKey: .isCacheHit) }
    }
}

extension Message: Codable {
    private enum CodingKeys: String, CodingKey {
        case role, content, toolCalls = "tool_calls", callID = "tool_call_id", name, isError = "is_error", thinking
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let role = try container.decode(String.self, forKey: .role)
        switch role {
        case "system":
            self = .system(try container.decode(String.self, forKey: .content))
        case "user":
            self = .user(try container.decode(String.self, forKey: .content))
        case "assistant":
            self = .assistant(AssistantMessage(
                text: try container.decodeIfPresent(String.self, forKey: .content),
                toolCalls: try container.decodeIfPresent([ToolCall].self, forKey: .toolCalls) ?? [],
                thinking: try container.decodeIfPresent([ThinkingBlock].self, forKey: .thinking) ?? []))
        case "tool":
            self = .tool(ToolResult(
                callID: try container.decode(String.self, forKey: .callID),
                name: try container.decodeIfPresent(String.self, forKey: .name) ?? "",
                content: try container.decode(String.self, forKey: .content),
                isError: try container.decodeIfPresent(Bool.self, forKey: .isError) ?? false))
        default:
            throw DecodingError.dataCorruptedError(forKey: .role, in: container, debugDescription: "Unknown message role '\(role)'.")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        switch self {
        case .system(let text), .user(let text):
            try container.encode(text, forKey: .content)
        case .assistant(let message):
            try container.encodeIfPresent(message.text, forKey: .content)
            if !message.toolCalls.isEmpty { try container.encode(message.toolCalls, forKey: .toolCalls) }
            if !message.thinking.isEmpty { try container.encode(message.thinking, forKey: .thinking) }
        case .tool(let result):
            try container.encode(result.callID, forKey: .callID)
            try container.encode(result.name, forKey: .name)
            try container.encode(result.content, forKey: .content)
            if result.isError { try container.encode(true, forKey: .isError) }
        }
    }
}
