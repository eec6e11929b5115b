import KeelCore
import Logging

/// A model with instructions, tools and limits, and the loop that runs them.
///
/// ```swift
/// let agent = Agent(model: model, instructions: "You are a careful calculator.", tools: [Add()])
/// let result = await agent.run("What is 1 plus 2?")
/// print(result.answer ?? result.outcome.kind)
/// ```
///
/// ``run(_:observer:)`` keeps the run in memory; ``run(_:in:observer:)`` makes it durable (it
/// survives a crash). Both are the same code: the ``AgentLoop`` driven through journaled steps of a
/// ``RunContext``, whose journal is in memory or in a store.
public struct Agent: Sendable {
    /// The agent's name: what handoffs and reports call it, and the tool name when it is used as
    /// a tool. Default: `agent`.
    public var name: String
    public var model: any ChatModel
    public var instructions: String?
    public var tools: [AnyTool]
    public var configuration: AgentConfiguration
    /// Budgets, retries, timeouts, the deadline and caching.
    public var controls: AgentControls
    /// The clock for timeouts, backoff and latency. Default: `ContinuousClock()`.
    public var clock: any Clock<Duration>
    public var logger: Logger
    /// The agents this one may hand the conversation to (``Handoff``). Default: none.
    public var handoffs: [Handoff] = []
    /// Checks of the user's input, before any side effect (``InputGuardrail``). Default: none.
    public var inputGuardrails: [InputGuardrail] = []
    /// Checks of the final answer (``OutputGuardrail``). Default: none.
    public var outputGuardrails: [OutputGuardrail] = []
    /// Long-term memory recalled into the context before the first model call (``AgentMemory``);
    /// its tools are the agent's only when added to ``tools``. Default: none.
    public var memory: AgentMemory?

    public init(
        name: String = "agent", model: any ChatModel, instructions: String? = nil, tools: [AnyTool] = [],
        configuration: AgentConfiguration = AgentConfiguration(), controls: AgentControls = AgentControls(),
        clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "keel.agent")
    ) {
        self.name = name
        self.model = model
        self.instructions = instructions
        self.tools = tools
        self.configuration = configuration
        self.controls = controls
        self.clock = clock
        self.logger = logger
    }

    /// An agent with typed tools.
    public init(
        name: String = "agent", model: any ChatModel, instructions: String? = nil, tools: [any Tool],
        configuration: AgentConfiguration = AgentConfiguration(), controls: AgentControls = AgentControls(),
        clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "keel.agent")
    ) {
        self.init(
            name: name, model: model, instructions: instructions, tools: tools.map { AnyTool($0) }, configuration: configuration,
            controls: controls, clock: clock, logger: logger)
    }

    /// What the model is offered: the tools, then the handoffs.
    public var toolDefinitions: [ToolDefinition] {
        tools.map(\.definition) + handoffs.map(\.definition)
    }

    /// The executor that runs this agent's tool calls.
    public var toolExecutor: ToolExecutor {
        ToolSteps(tools: tools, controls: controls, configuration: configuration, clock: clock, logger: logger).toolExecutor
    }

    /// Runs the agent on one prompt until it answers or a limit stops it. Never throws: failures
    /// are outcomes, and the transcript and usage are in the result whatever happens.
    public func run(_ prompt: String, observer: (@Sendable (AgentEvent) -> Void)? = nil) async -> AgentRunResult {
        let loop = AgentLoop(instructions: instructions, prompt: prompt, tools: toolDefinitions, configuration: configuration)
        return await run(loop, observer: observer)
    }

    /// Runs a loop that was set up elsewhere (for example over an existing transcript).
    ///
    /// The run is kept in memory: the same steps as ``run(_:in:observer:)`` on an
    /// ``InMemoryRunStore`` that ends with it. A model call that still fails after its retries
    /// and fallbacks ends it with ``AgentOutcome/modelFailed(_:)``; calls that need approval go
    /// to ``ToolGovernance/approver`` (or are denied, with none).
    public func run(_ loop: AgentLoop, observer: (@Sendable (AgentEvent) -> Void)? = nil) async -> AgentRunResult {
        let memory = InMemoryRun(clock: clock, logger: logger, deadline: nil, approver: controls.governance?.approver)
        do {
            return try await memory.run { context in
                // From the start on each pass: a pass after approvals replays the journal.
                var current = loop
                do {
                    return try await drive(&current, in: context, modelFailures: .endTheLoop, observer: observer)
                } catch where !(error is RunSuspension) {
                    // Cancelled: the run ends with what it has.
                    return current.result(outcome: .modelFailed(ModelFailure(ModelError.classify(error))))
                }
            }
        } catch {
            return loop.result(outcome: .modelFailed(ModelFailure(ModelError.classify(error))))
        }
    }
}

/// Progress of an agent run, for display and logging.
public enum AgentEvent: Sendable, Hashable {
    /// Model call number `step` is starting.
    case modelCallStarted(step: Int)
    /// Streamed text of the current reply (only with ``AgentConfiguration/streaming``).
    case textDelta(String)
    /// A tool call is starting.
    case toolCallStarted(ToolCall)
    /// A tool call finished (successfully or not).
    case toolCallFinished(ToolResult)
    /// A step — a model call and its tool calls — is complete.
    case stepFinished(AgentStep)
}
