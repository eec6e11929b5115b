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
/// ``run(_:observer:)`` keeps the run in memory; a durable run (which survives a crash) drives the
/// same ``AgentLoop`` through journaled steps.
public struct Agent: Sendable {
    public var model: any ChatModel
    public var instructions: String?
    public var tools: [AnyTool]
    public var configuration: AgentConfiguration
    /// The clock for tool timeouts and latency. Default: `ContinuousClock()`.
    public var clock: any Clock<Duration>
    public var logger: Logger

    public init(
        model: any ChatModel, instructions: String? = nil, tools: [AnyTool] = [],
        configuration: AgentConfiguration = AgentConfiguration(), clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "keel.agent")
    ) {
        self.model = model
        self.instructions = instructions
        self.tools = tools
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// An agent with typed tools.
    public init(
        model: any ChatModel, instructions: String? = nil, tools: [any Tool],
        configuration: AgentConfiguration = AgentConfiguration(), clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "keel.agent")
    ) {
        self.init(
            model: model, instructions: instructions, tools: tools.map { AnyTool($0) }, configuration: configuration,
            clock: clock, logger: logger)
    }

    /// The executor that runs this agent's tool calls.
    public var toolExecutor: ToolExecutor {
        ToolExecutor(tools: tools, timeout: configuration.toolTimeout, concurrency: configuration.toolConcurrency, clock: clock, logger: logger)
    }

    /// Runs the agent on one prompt until it answers or a limit stops it. Never throws: failures
    /// are outcomes, and the transcript and usage are in the result whatever happens.
    public func run(_ prompt: String, observer: (@Sendable (AgentEvent) -> Void)? = nil) async -> AgentRunResult {
        let loop = AgentLoop(instructions: instructions, prompt: prompt, tools: tools.map(\.definition), configuration: configuration)
        return await run(loop, observer: observer)
    }

    /// Runs a loop that was set up elsewhere (for example over an existing transcript).
    public func run(_ loop: AgentLoop, observer: (@Sendable (AgentEvent) -> Void)? = nil) async -> AgentRunResult {
        var loop = loop
        let executor = toolExecutor
        var action = loop.start()
        while true {
            switch action {
            case .callModel(let request):
                observer?(.modelCallStarted(step: loop.steps.count + 1))
                let (result, latency) = await measure(on: clock) { () async -> Result<ChatResponse, any Error> in
                    do { return .success(try await callModel(request, observer: observer)) } catch { return .failure(error) }
                }
                switch result {
                case .success(let response):
                    action = loop.handle(.modelResponded(response, latency: latency))
                case .failure(let error):
                    let failure = ModelFailure(ModelError.classify(error))
                    logger.warning("model call failed", metadata: ["model": "\(model.identifier)", "code": "\(failure.code)"])
                    action = loop.handle(.modelFailed(failure))
                }
            case .runTools(let calls):
                for call in calls { observer?(.toolCallStarted(call)) }
                let step = loop.steps.count
                let results = await executor.run(calls) { call in
                    ToolContext(callID: call.id, toolName: call.name, idempotencyKey: "\(call.id)-\(step)")
                }
                for result in results { observer?(.toolCallFinished(result)) }
                action = loop.handle(.toolsFinished(results))
            case .finish(let outcome):
                if let last = loop.steps.last { observer?(.stepFinished(last)) }
                return loop.result(outcome: outcome)
            }
            if case .callModel = action, let last = loop.steps.last { observer?(.stepFinished(last)) }
        }
    }

    private func callModel(_ request: ChatRequest, observer: (@Sendable (AgentEvent) -> Void)?) async throws -> ChatResponse {
        guard configuration.streaming else { return try await model.respond(to: request) }
        return try await model.stream(request) { event in
            if case .textDelta(let text) = event { observer?(.textDelta(text)) }
        }
    }
}

/// Runs `body` and returns its value with the time it took on `clock`.
func measure<C: Clock, T>(on clock: C, _ body: () async -> T) async -> (T, Duration) where C.Duration == Duration {
    let start = clock.now
    let value = await body()
    return (value, start.duration(to: clock.now))
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
