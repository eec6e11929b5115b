import KeelCore

/// The agent loop as a pure state machine: events in, actions out, no I/O.
///
/// A runner (``Agent/run(_:)``, or the durable runtime) performs each ``Action`` and reports back
/// with an ``Event``:
///
/// 1. ``start()`` returns ``Action/callModel(_:)`` with the transcript and tools.
/// 2. A reply with tool calls returns ``Action/runTools(_:)``; the tool results come back with
///    ``Event/toolsFinished(_:)`` and the loop asks for the next model call.
/// 3. A reply without tool calls finishes the run with ``AgentOutcome/completed(answer:)``. With
///    an ``OutputContract``, an answer that does not meet it goes back to the model with what is
///    wrong (a user message) up to ``AgentConfiguration/maxOutputRepairs`` times, and then finishes
///    the run with ``AgentOutcome/invalidOutput(_:)``.
/// 4. Tool calls after ``AgentConfiguration/maxSteps`` model calls are answered as not run and the
///    run finishes with ``AgentOutcome/stepLimitReached(steps:)``; the same failing call repeated
///    ``AgentConfiguration/noProgressThreshold`` times finishes it with
///    ``AgentOutcome/noProgress(tool:arguments:failures:)``; a model failure with
///    ``AgentOutcome/modelFailed(_:)``.
///
/// Every tool call in the transcript gets exactly one result, whatever happens.
public struct AgentLoop: Sendable {
    /// What the runner should do next.
    public enum Action: Sendable, Hashable {
        /// Send this request to the model and report ``Event/modelResponded(_:latency:)`` or
        /// ``Event/modelFailed(_:)``.
        case callModel(ChatRequest)
        /// Run these tool calls and report ``Event/toolsFinished(_:)``.
        case runTools([ToolCall])
        /// The run is over.
        case finish(AgentOutcome)
    }

    /// What happened when the runner performed an action.
    public enum Event: Sendable, Hashable {
        case modelResponded(ChatResponse, latency: Duration?)
        case modelFailed(ModelFailure)
        case toolsFinished([ToolResult])
        /// The pending model call was refused because it could break a budget.
        case budgetRefused(BudgetExceeded)
        /// The run's deadline passed before the pending model call. With `finalAnswer`, the loop
        /// asks the model once more — without tools — to answer with what it has.
        case deadlinePassed(finalAnswer: Bool)
        /// The model called a handoff tool (``Handoff``): the reply's calls are answered with
        /// `results` and the loop finishes with ``AgentOutcome/handedOff(to:)``.
        case handedOff(to: String, results: [ToolResult])
        /// A guardrail tripped: pending calls are answered as not run and the loop finishes with
        /// ``AgentOutcome/guardrailTripped(_:)``, whatever it was doing (a completed answer
        /// included).
        case guardrailTripped(GuardrailTrip)
        /// An output guardrail sent the completed answer back: the reason goes to the model as a
        /// user message and the loop asks for another answer (while steps are left).
        case answerRejected(reason: String)
    }

    /// The note added to the transcript when the deadline asks for a final answer.
    public static let deadlineNote = "The time for this task is up. Do not call tools. Answer now, as well as you can with what you have."

    private enum State: Sendable {
        case ready
        // The pending request is rebuilt from the transcript when asked for again rather than
        // kept here: a copy kept here would share the transcript's storage, and the next append
        // would then copy the whole transcript, every step.
        case awaitingModel
        case awaitingFinalAnswer
        case awaitingTools([ToolCall])
        case finished(AgentOutcome)
    }

    private struct FailureStreak: Sendable {
        var tool: String
        var arguments: String
        var signature: String
        var count: Int
    }

    /// The conversation so far.
    public private(set) var transcript: Transcript
    /// Tokens used by all model calls so far.
    public private(set) var usage: Usage = .zero
    /// The steps so far.
    public private(set) var steps: [AgentStep] = []
    /// The tools offered to the model.
    public let tools: [ToolDefinition]
    public let configuration: AgentConfiguration
    /// What the final answer must be, for a typed run; `nil` accepts any answer.
    public let output: OutputContract?
    /// How many answers went back to the model for not meeting ``output``.
    public private(set) var outputRepairs = 0
    private var state: State = .ready
    private var failureStreak: FailureStreak?

    /// A loop over an existing transcript (system instructions first, then the conversation).
    public init(
        transcript: Transcript, tools: [ToolDefinition], configuration: AgentConfiguration = AgentConfiguration(), output: OutputContract? = nil
    ) {
        self.transcript = transcript
        self.tools = tools
        self.configuration = configuration
        self.output = output
    }

    /// A loop that starts from instructions and one user prompt.
    public init(
        instructions: String?, prompt: String, tools: [ToolDefinition], configuration: AgentConfiguration = AgentConfiguration(),
        output: OutputContract? = nil
    ) {
        var transcript = Transcript()
        if let instructions, !instructions.isEmpty { transcript.append(.system(instructions)) }
        transcript.append(.user(prompt))
        self.init(transcript: transcript, tools: tools, configuration: configuration, output: output)
    }

    /// Whether the pending model call asks for a final answer after the deadline.
    public var isAskingForFinalAnswer: Bool {
        if case .awaitingFinalAnswer = state { return true }
        return false
    }

    /// The outcome, once the loop has finished.
    public var outcome: AgentOutcome? {
        if case .finished(let outcome) = state { return outcome }
        return nil
    }

    /// The result so far (with the outcome, once finished).
    @inline(never)
    public func result(outcome: AgentOutcome) -> AgentRunResult {
        AgentRunResult(outcome: outcome, steps: steps, transcript: transcript, usage: usage)
    }

    /// Begins the run. Calling it again returns the pending action.
    @inline(never)
    public mutating func start() -> Action {
        switch state {
        case .ready:
            guard configuration.maxSteps > 0 else { return finish(.stepLimitReached(steps: 0)) }
            return requestModel()
        case .awaitingModel: return .callModel(modelRequest())
        case .awaitingFinalAnswer: return .callModel(finalAnswerRequest())
        case .awaitingTools(let calls): return .runTools(calls)
        case .finished(let outcome): return .finish(outcome)
        }
    }

    /// Advances the loop with what the runner observed. An event that does not answer the pending
    /// action is ignored and the pending action returned again.
    @inline(never)  // its temporaries belong on the thread's stack, not in the driver's async frame
    public mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.awaitingModel, .modelResponded(let response, let latency)):
            return modelResponded(response, latency: latency)
        case (.awaitingModel, .modelFailed(let failure)):
            return finish(.modelFailed(failure))
        case (.awaitingTools(let calls), .toolsFinished(let results)):
            return toolsFinished(calls: calls, results: results)
        case (.awaitingModel, .budgetRefused(let refusal)), (.awaitingFinalAnswer, .budgetRefused(let refusal)):
            return finish(.budgetExceeded(refusal))
        case (.awaitingModel, .deadlinePassed(let finalAnswer)):
            guard finalAnswer else { return finish(.deadlineReached(answer: nil)) }
            transcript.append(.user(Self.deadlineNote))
            state = .awaitingFinalAnswer
            return .callModel(finalAnswerRequest())
        case (.awaitingFinalAnswer, .modelResponded(let response, let latency)):
            usage += response.usage
            transcript.append(.assistant(response.message))
            steps.append(AgentStep(number: steps.count + 1, response: response, modelLatency: latency))
            if !response.message.toolCalls.isEmpty {
                record(response.message.toolCalls.map {
                    ToolResult(callID: $0.id, name: $0.name, content: ToolCallError(.notRun, "not run: the run's deadline has passed.").modelText, isError: true)
                })
            }
            return finish(.deadlineReached(answer: response.message.text))
        case (.awaitingFinalAnswer, .modelFailed):
            return finish(.deadlineReached(answer: nil))
        case (.awaitingTools(let calls), .handedOff(let target, let results)):
            record(calls.map { call in
                results.first { $0.callID == call.id }
                    ?? ToolResult(callID: call.id, name: call.name, content: ToolCallError(.notRun, "not run: the conversation was handed to \(target).").modelText, isError: true)
            })
            return finish(.handedOff(to: target))
        case (.finished(.completed), .guardrailTripped(let trip)), (.ready, .guardrailTripped(let trip)), (.awaitingModel, .guardrailTripped(let trip)),
            (.awaitingFinalAnswer, .guardrailTripped(let trip)):
            return finish(.guardrailTripped(trip))
        case (.awaitingTools(let calls), .guardrailTripped(let trip)):
            record(calls.map {
                ToolResult(callID: $0.id, name: $0.name, content: ToolCallError(.notRun, "not run: \(trip).").modelText, isError: true)
            })
            return finish(.guardrailTripped(trip))
        case (.finished(.completed), .answerRejected(let reason)):
            guard steps.count < configuration.maxSteps else { return finish(.stepLimitReached(steps: steps.count)) }
            transcript.append(.user("Your answer was not accepted: \(reason) Answer again."))
            return requestModel()
        default:
            return start()
        }
    }

    private mutating func requestModel() -> Action {
        state = .awaitingModel
        return .callModel(modelRequest())
    }

    /// The request for the next model call: the transcript, with the tools.
    private func modelRequest() -> ChatRequest {
        ChatRequest(
            messages: transcript.messages,
            tools: tools,
            toolChoice: tools.isEmpty ? .auto : configuration.toolChoice,
            parallelToolCalls: tools.isEmpty ? nil : configuration.parallelToolCalls,
            maxOutputTokens: configuration.maxOutputTokens,
            temperature: configuration.temperature,
            responseFormat: output?.responseFormat ?? configuration.responseFormat)
    }

    /// The request for the answer after the deadline: the transcript, and no tools.
    private func finalAnswerRequest() -> ChatRequest {
        ChatRequest(
            messages: transcript.messages, tools: [], toolChoice: .auto, maxOutputTokens: configuration.maxOutputTokens,
            temperature: configuration.temperature, responseFormat: output?.responseFormat ?? configuration.responseFormat)
    }

    private mutating func modelResponded(_ response: ChatResponse, latency: Duration?) -> Action {
        usage += response.usage
        transcript.append(.assistant(response.message))
        steps.append(AgentStep(number: steps.count + 1, response: response, modelLatency: latency))
        let calls = response.message.toolCalls
        if calls.isEmpty {
            return answered(response.message.text ?? "")
        }
        if steps.count >= configuration.maxSteps {
            let limit = configuration.maxSteps
            let results = calls.map {
                ToolResult(callID: $0.id, name: $0.name, content: ToolCallError(.notRun, "not run: the agent reached its limit of \(limit) steps.").modelText, isError: true)
            }
            record(results)
            return finish(.stepLimitReached(steps: steps.count))
        }
        state = .awaitingTools(calls)
        return .runTools(calls)
    }

    /// A final answer: the run completes unless it fails the output contract, when it goes back
    /// to the model while repairs (and steps) are left.
    private mutating func answered(_ answer: String) -> Action {
        guard let output, case .failure(let problem) = output.check(answer) else { return finish(.completed(answer: answer)) }
        guard outputRepairs < configuration.maxOutputRepairs, steps.count < configuration.maxSteps else {
            return finish(.invalidOutput(InvalidOutput(raw: answer, problem: problem.description, repairs: outputRepairs)))
        }
        outputRepairs += 1
        transcript.append(.user(output.repairRequest(problem)))
        return requestModel()
    }

    private mutating func toolsFinished(calls: [ToolCall], results: [ToolResult]) -> Action {
        // One result per call, in call order; a missing result is reported as not run.
        let ordered: [ToolResult]
        if results.map(\.callID) == calls.map(\.id) {
            ordered = results
        } else {
            var byID: [String: ToolResult] = [:]
            for result in results where byID[result.callID] == nil { byID[result.callID] = result }
            ordered = calls.map { call in
                byID[call.id] ?? ToolResult(callID: call.id, name: call.name, content: ToolCallError(.notRun, "not run: the runtime returned no result for this call.").modelText, isError: true)
            }
        }
        record(ordered)
        for (call, result) in zip(calls, ordered) {
            if let streak = updateFailureStreak(call: call, failed: result.isError), streak.count >= configuration.noProgressThreshold {
                return finish(.noProgress(tool: streak.tool, arguments: streak.arguments, failures: streak.count))
            }
        }
        return requestModel()
    }

    private mutating func record(_ results: [ToolResult]) {
        transcript.append(contentsOf: results.map(Message.tool))
        if !steps.isEmpty { steps[steps.count - 1].toolResults = results }
    }

    private mutating func updateFailureStreak(call: ToolCall, failed: Bool) -> FailureStreak? {
        guard failed else {
            failureStreak = nil
            return nil
        }
        let signature = call.name + "\u{0}" + Self.canonicalArguments(call.arguments)
        if var streak = failureStreak, streak.signature == signature {
            streak.count += 1
            failureStreak = streak
        } else {
            failureStreak = FailureStreak(tool: call.name, arguments: call.arguments, signature: signature, count: 1)
        }
        return failureStreak
    }

    private mutating func finish(_ outcome: AgentOutcome) -> Action {
        state = .finished(outcome)
        return .finish(outcome)
    }

    /// The arguments with keys sorted and whitespace removed, so that `{"a":1, "b":2}` and
    /// `{"b":2,"a":1}` count as the same call; text that is not JSON is used as it is.
    static func canonicalArguments(_ arguments: String) -> String {
        (try? JSONValue(parsing: arguments))?.serialized() ?? arguments
    }
}
