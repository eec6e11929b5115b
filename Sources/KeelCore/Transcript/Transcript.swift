/// The conversation so far: the messages a model sees, in order.
///
/// A transcript is valid for a provider when every assistant tool call is answered by a tool
/// result before the next assistant message; ``unansweredToolCalls`` finds the ones that are not.
public struct Transcript: Sendable, Hashable, Codable {
    public var messages: [Message]

    public init(_ messages: [Message] = []) {
        self.messages = messages
    }

    /// Appends one message.
    public mutating func append(_ message: Message) {
        messages.append(message)
    }

    /// Appends several messages.
    public mutating func append(contentsOf newMessages: some Sequence<Message>) {
        messages.append(contentsOf: newMessages)
    }

    /// The text of the last assistant message, if any.
    public var lastAssistantText: String? {
        for message in messages.reversed() {
            if case .assistant(let reply) = message { return reply.text }
        }
        return nil
    }

    /// Tool calls that have no tool result in the transcript.
    public var unansweredToolCalls: [ToolCall] {
        var answered = Set<String>()
        for case .tool(let result) in messages { answered.insert(result.callID) }
        var unanswered: [ToolCall] = []
        for case .assistant(let reply) in messages {
            unanswered.append(contentsOf: reply.toolCalls.filter { !answered.contains($0.id) })
        }
        return unanswered
    }

    public init(from decoder: any Decoder) throws {
        messages = try [Message](from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try messages.encode(to: encoder)
    }
}
