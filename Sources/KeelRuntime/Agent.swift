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
        do {
            return try await drive(&loop, mode: .inMemory, observer: observer)
        } catch {
            // In memory nothing throws but cancellation; the run ends with what it has.
            return loop.result(outcome: .modelFailed(ModelFailure(ModelError.classify(error))))
        }
    }

    /// How the loop's calls are carried out.
    enum Mode {
        /// Directly; a failed model call ends the run with ``AgentOutcome/modelFailed(_:)``.
        case inMemory
        /// As journaled steps of a durable run; a failed model call fails the run (and is retried
        /// when it resumes).
        case durable(RunContext)
    }

    /// Performs the loop's actions until it finishes.
    func drive(_ loop: inout AgentLoop, mode: Mode, observer: (@Sendable (AgentEvent) -> Void)?) async throws -> AgentRunResult {
        let executor = toolExecutor
        let sideEffecting = Set(tools.filter(\.isSideEffecting).map(\.name))
        let identifier = model.identifier
        var action = loop.start()
        while true {
            switch action {
            case .callModel(let request):
                let number = loop.steps.count + 1
                observer?(.modelCallStarted(step: number))
                switch mode {
                case .inMemory:
                    let (result, latency) = await measure(on: clock) { () async -> Result<ChatResponse, any Error> in
                        do { return .success(try await callModel(request, observer: observer)) } catch { return .failure(error) }
                    }
                    switch result {
                    case .success(let response):
                        action = loop.handle(.modelResponded(response, latency: latency))
                    case .failure(let error):
                        let failure = ModelFailure(ModelError.classify(error))
                        logger.warning("model call failed", metadata: ["model": "\(identifier)", "code": "\(failure.code)"])
                        action = loop.handle(.modelFailed(failure))
                    }
                case .durable(let context):
                    let response = try await context.step("model-\(number)", kind: .model, metering: { StepMetering(model: identifier, usage: $0.usage) }) {
                        try await callModel(request, observer: observer)
                    }
                    action = loop.handle(.modelResponded(response, latency: nil))
                }
            case .runTools(let calls):
                for call in calls { observer?(.toolCallStarted(call)) }
                let results = try await runTools(calls, mode: mode, executor: executor, sideEffecting: sideEffecting)
                for result in results { observer?(.toolCallFinished(result)) }
                action = loop.handle(.toolsFinished(results))
                if case .callModel = action, let last = loop.steps.last { observer?(.stepFinished(last)) }
            case .finish(let outcome):
                if let last = loop.steps.last { observer?(.stepFinished(last)) }
                return loop.result(outcome: outcome)
            }
        }
    }

    /// Runs one reply's tool calls, at most ``AgentConfiguration/toolConcurrency`` at a time. In a
    /// durable run each call is a step at a position reserved in call order; a side-effecting
    /// tool's step is journaled as started first and its idempotency key is `run id:position`.
    private func runTools(_ calls: [ToolCall], mode: Mode, executor: ToolExecutor, sideEffecting: Set<String>) async throws -> [ToolResult] {
        switch mode {
        case .inMemory:
            return await executor.run(calls) { call in ToolContext(callID: call.id, toolName: call.name) }
        case .durable(let context):
            let positions = Array(context.reserveSequences(calls.count))
            let runID = context.runID
            let policy = configuration.inDoubtPolicy
            return try await concurrentMap(Array(zip(positions, calls)), limit: configuration.toolConcurrency) { _, pair in
                let (sequence, call) = pair
                let name = "tool-\(call.name)-\(call.id)"
                @Sendable func perform(_ key: String) async -> ToolResult {
                    await executor.run(call, context: ToolContext(callID: call.id, toolName: call.name, idempotencyKey: key, runID: runID))
                }
                if sideEffecting.contains(call.name) {
                    return try await context.sideEffect(at: sequence, name, kind: .tool, isSideEffecting: true, inDoubt: policy) { key in await perform(key) }
                }
                return try await context.step(at: sequence, name, kind: .tool) { await perform("\(runID):\(sequence)") }
            }
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
func measure<T>(on clock: any Clock<Duration>, _ body: () async -> T) async -> (T, Duration) {
    if clock is ContinuousClock {
        // The common case, without boxing instants in existentials.
        let start = ContinuousClock.now
        let value = await body()
        return (value, start.duration(to: .now))
    }
    return await measureGeneric(on: clock, body)
}

private func measureGeneric<C: Clock, T>(on clock: C, _ body: () async -> T) async -> (T, Duration) where C.Duration == Duration {
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
