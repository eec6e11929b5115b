import KeelCore

/// A transfer of the conversation to another agent, offered to the model as a tool
/// (`transfer_to_<name>`).
///
/// When the model calls it, the calling agent's turn ends: every other call of that reply is
/// answered as not run, the transcript passes through ``inputFilter`` and goes to the target agent
/// under its own instructions, and the target answers from there — in its own scope of the run
/// (`handoff-<n>@<name>`), so its steps are durable and its usage is attributed to it
/// (``UsageByAgent``). The run's result names the agent that answered
/// (``AgentRunResult/agent``).
///
/// What the target receives never breaks its provider: system messages are replaced by its own
/// instructions, reasoning blocks (signed by the first provider) are dropped, the handoff call is
/// removed, no tool call is left without its result nor a result without its call, and the
/// transcript ends with a user turn.
public struct Handoff: Sendable {
    /// The agent that takes over.
    public var agent: Agent
    /// The tool the model calls to hand off. Default: `transfer_to_<agent name>`.
    public var toolName: String
    /// What the model reads about when to hand off.
    public var description: String
    /// What of the conversation the target receives. Default: ``HandoffInputFilter/toolCallsAsText``.
    public var inputFilter: HandoffInputFilter

    public init(to agent: Agent, toolName: String? = nil, description: String? = nil, inputFilter: HandoffInputFilter = .toolCallsAsText) {
        self.agent = agent
        self.toolName = toolName ?? "transfer_to_\(Agent.toolName(agent.name))"
        self.description = description ?? "Hand the conversation to \(agent.name), who answers the user from then on."
        self.inputFilter = inputFilter
    }

    /// The tool the model sees.
    public var definition: ToolDefinition {
        ToolDefinition(
            name: toolName, description: description,
            parameters: .object(properties: [("reason", .string(description: "Why the conversation goes to \(agent.name)."))], required: []))
    }

    /// The transcript `agent` starts from after a handoff by `from` out of `transcript`.
    func transcript(handingOff transcript: Transcript, from: String, call: ToolCall) -> Transcript {
        var messages: [Message] = []
        for message in transcript.messages {
            switch message {
            case .system:
                continue
            case .assistant(var reply):
                reply.thinking = []
                reply.toolCalls.removeAll { $0.id == call.id }
                if reply.toolCalls.isEmpty, (reply.text ?? "").isEmpty { continue }
                messages.append(.assistant(reply))
            case .tool(let result) where result.callID == call.id:
                continue
            default:
                messages.append(message)
            }
        }
        var handed = HandoffInputFilter.withoutOrphans(inputFilter.apply(Transcript(messages)))
        handed.messages.removeAll { if case .system = $0 { true } else { false } }
        if case .user? = handed.messages.last {} else {
            handed.append(.user("\(from) handed this conversation to you, \(agent.name). Continue it: answer the user."))
        }
        if let instructions = agent.instructions, !instructions.isEmpty { handed.messages.insert(.system(instructions), at: 0) }
        return handed
    }
}

/// What of a conversation an agent receives when it is handed one.
public struct HandoffInputFilter: Sendable {
    let apply: @Sendable (Transcript) -> Transcript

    /// A filter of your own. Whatever it returns, tool calls without results and results without
    /// calls are removed before the target sees it.
    public init(_ apply: @escaping @Sendable (Transcript) -> Transcript) {
        self.apply = apply
    }

    /// Everything, tool calls and results as they are (for providers that accept calls of tools
    /// the request does not offer, such as OpenAI's).
    public static let keepAll = HandoffInputFilter { $0 }

    /// Each earlier tool call and its result as a line of assistant text (`[lookup {"id": 7} → …]`):
    /// the target knows what was found without being sent calls of tools it does not have.
    public static let toolCallsAsText = HandoffInputFilter { transcript in
        var results: [String: ToolResult] = [:]
        for case .tool(let result) in transcript.messages { results[result.callID] = result }
        var messages: [Message] = []
        for message in transcript.messages {
            switch message {
            case .assistant(let reply) where !reply.toolCalls.isEmpty:
                var lines = reply.text.map { [$0] } ?? []
                for call in reply.toolCalls {
                    let result = results[call.id].map { ($0.isError ? "error: " : "") + $0.content } ?? "no result"
                    lines.append("[\(call.name) \(call.arguments) → \(result)]")
                }
                messages.append(.assistant(AssistantMessage(text: lines.joined(separator: "\n"))))
            case .tool:
                continue
            default:
                messages.append(message)
            }
        }
        return Transcript(messages)
    }

    /// The conversation without any tool calls or results: what the user and the agents said.
    public static let removeToolCalls = HandoffInputFilter { transcript in
        Transcript(transcript.messages.compactMap { message in
            switch message {
            case .tool: return nil
            case .assistant(var reply):
                reply.toolCalls = []
                return (reply.text ?? "").isEmpty ? nil : .assistant(reply)
            default: return message
            }
        })
    }

    /// The last `count` messages (with tool calls as text), for long conversations.
    public static func lastMessages(_ count: Int) -> HandoffInputFilter {
        HandoffInputFilter { transcript in
            Transcript(Array(toolCallsAsText.apply(transcript).messages.suffix(max(1, count))))
        }
    }

    /// `transcript` less tool results whose call it does not hold before them, and tool calls
    /// with no result after them (an assistant message left with neither text nor calls goes too).
    static func withoutOrphans(_ transcript: Transcript) -> Transcript {
        var answered = Set<String>()
        for case .tool(let result) in transcript.messages { answered.insert(result.callID) }
        var called = Set<String>()
        var messages: [Message] = []
        for message in transcript.messages {
            switch message {
            case .assistant(var reply):
                reply.toolCalls.removeAll { !answered.contains($0.id) }
                called.formUnion(reply.toolCalls.map(\.id))
                if reply.toolCalls.isEmpty, (reply.text ?? "").isEmpty, reply.thinking.isEmpty { continue }
                messages.append(.assistant(reply))
            case .tool(let result):
                guard called.contains(result.callID) else { continue }
                messages.append(message)
            default:
                messages.append(message)
            }
        }
        return Transcript(messages)
    }
}
