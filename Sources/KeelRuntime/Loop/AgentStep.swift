import KeelCore

/// One turn of the loop: a model call and the tool calls it asked for.
public struct AgentStep: Sendable, Hashable, Codable {
    /// The step's number, from 1.
    public var number: Int
    /// The model's reply.
    public var response: ChatResponse
    /// The results of the reply's tool calls, in the order of the calls.
    public var toolResults: [ToolResult]
    /// How long the model call took, when measured.
    public var modelLatency: Duration?

    public init(number: Int, response: ChatResponse, toolResults: [ToolResult] = [], modelLatency: Duration? = nil) {
        self.number = number
        self.response = response
        self.toolResults = toolResults
        self.modelLatency = modelLatency
    }
}

/// A finished agent run: its outcome, every step, the transcript and the usage.
///
/// After handoffs (``Handoff``) the steps and usage are every agent's, in order, the transcript
/// is the one the answering agent saw, and ``agent`` names it.
public struct AgentRunResult: Sendable, Hashable, Codable {
    public var outcome: AgentOutcome
    public var steps: [AgentStep]
    public var transcript: Transcript
    /// The tokens of the run's own model calls (an agent used as a tool counts its own; see
    /// ``UsageByAgent`` for a run's usage by agent).
    public var usage: Usage
    /// The agent that answered, when it is not the one that started (after handoffs).
    public var agent: String?
    /// The agents the conversation was handed to, in order; `nil` without handoffs.
    public var handoffs: [String]?

    public init(outcome: AgentOutcome, steps: [AgentStep], transcript: Transcript, usage: Usage, agent: String? = nil, handoffs: [String]? = nil) {
        self.outcome = outcome
        self.steps = steps
        self.transcript = transcript
        self.usage = usage
        self.agent = agent
        self.handoffs = handoffs
    }

    /// The final answer: the model's when the run completed, or the one it gave with what it had
    /// when the deadline came.
    public var answer: String? {
        switch outcome {
        case .completed(let answer): answer
        case .deadlineReached(let answer): answer
        default: nil
        }
    }
}
