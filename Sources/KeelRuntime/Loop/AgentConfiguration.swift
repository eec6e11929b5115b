import KeelCore

/// The limits and switches of an agent's loop.
public struct AgentConfiguration: Sendable, Hashable {
    /// The most model calls a run may make. Default: 20.
    public var maxSteps: Int = 20
    /// The most output tokens any single model call may produce. Default: 1,500.
    public var maxOutputTokens: Int = 1_500
    /// Sampling temperature; `nil` leaves it to the provider. Default: `nil`.
    public var temperature: Double? = nil
    /// Whether and which tool the model must call. Default: ``ToolChoice/auto``.
    public var toolChoice: ToolChoice = .auto
    /// Whether the model may ask for several tool calls at once; `nil` leaves it to the provider.
    /// Default: `nil`.
    public var parallelToolCalls: Bool? = nil
    /// How many tool calls of one model reply run at the same time. Default: 4.
    public var toolConcurrency: Int = 4
    /// How long one tool call may take before it is abandoned and reported to the model as timed
    /// out. Default: 60 seconds.
    public var toolTimeout: Duration = .seconds(60)
    /// The longest tool result the model reads, in characters; a longer one is cut, and the
    /// model reads that it was. Default: 50,000.
    public var maxToolResultCharacters: Int = 50_000
    /// After this many failures in a row of the same tool with the same arguments, the run stops
    /// with ``AgentOutcome/noProgress(tool:arguments:failures:)``. Default: 3.
    public var noProgressThreshold: Int = 3
    /// The shape of the final answer. Default: ``ResponseFormat/text``.
    public var responseFormat: ResponseFormat = .text
    /// How many times a final answer that does not match the output schema of a typed run
    /// (``Agent/run(_:returning:observer:)``) goes back to the model with what is wrong, before
    /// the run ends with ``AgentOutcome/invalidOutput(_:)``. Default: 2.
    public var maxOutputRepairs: Int = 2
    /// Whether model calls stream their replies. Default: `false`.
    public var streaming: Bool = false
    /// What a durable run does with a side-effecting tool call found started but unfinished after
    /// a crash. Default: ``InDoubtPolicy/fail``.
    public var inDoubtPolicy: InDoubtPolicy = .fail
    /// The most handoffs in one run (``Agent/handoffs``); a handoff past it is answered as
    /// refused, and the agent that asked answers itself. Default: 10.
    public var maxHandoffs: Int = 10

    public init() {}
}
