import Foundation
import KeelCore

extension Agent {
    /// What a model call that fails (after its retries and fallbacks) does to the run.
    enum ModelFailureHandling {
        /// It ends the loop with ``AgentOutcome/modelFailed(_:)`` (a run kept in memory, which has
        /// no dead-letter queue to resume from).
        case endTheLoop
        /// It fails the run, which is resumed from that call (a durable run: the dead-letter queue
        /// and `keel runs resume` take it from there).
        case failTheRun
    }

    /// Performs the loop's actions, each as a step of `context`, until it finishes.
    ///
    /// 1. Before a model call the deadline is checked on the agent's clock — its passing is an
    ///    event of the loop (on replay, the journal says how it was decided); ``ModelCaller`` then checks the budgets, retries, times out, journals and
    ///    settles the call.
    /// 2. Tool calls run in parallel under the cap, from the caches where allowed.
    func drive(
        _ loop: inout AgentLoop, in context: RunContext, modelFailures: ModelFailureHandling, observer: (@Sendable (AgentEvent) -> Void)?
    ) async throws -> AgentRunResult {
        if let memory, loop.steps.isEmpty { loop = try await memory.recalled(into: loop, context: context) }
        if !handoffs.isEmpty || !inputGuardrails.isEmpty || !outputGuardrails.isEmpty {
            return try await driveTeam(&loop, in: context, modelFailures: modelFailures, observer: observer)
        }
        return try await driveTraced(&loop, in: context, modelFailures: modelFailures, observer: observer, team: nil)
    }

    /// ``driveSteps(_:in:modelFailures:observer:team:)`` in an `invoke_agent` span when the run is
    /// traced.
    func driveTraced(
        _ loop: inout AgentLoop, in context: RunContext, modelFailures: ModelFailureHandling, observer: (@Sendable (AgentEvent) -> Void)?,
        team: TeamHooks?
    ) async throws -> AgentRunResult {
        guard context.tracer != nil else { return try await driveSteps(&loop, in: context, modelFailures: modelFailures, observer: observer, team: team) }
        return try await traced(context.tracer, "invoke_agent") { span in
            span?.attributes[SpanName.operation] = "invoke_agent"
            span?.attributes[SpanName.provider] = model.provider
            span?.attributes[SpanName.requestModel] = model.name
            span?.attributes[SpanName.runID] = context.runID
            let result = try await driveSteps(&loop, in: context, modelFailures: modelFailures, observer: observer, team: team)
            span?.record(result.usage)
            span?.attributes["keel.outcome"] = result.outcome.kind
            return result
        }
    }

    private func driveSteps(
        _ loop: inout AgentLoop, in context: RunContext, modelFailures: ModelFailureHandling, observer: (@Sendable (AgentEvent) -> Void)?,
        team: TeamHooks?
    ) async throws -> AgentRunResult {
        let toolSteps = ToolSteps(tools: tools, controls: controls, configuration: configuration, clock: clock, logger: logger)
        let identifier = model.identifier
        // Measured on the agent's clock from here on.
        let deadline = (controls.deadline ?? context.deadline).map { RunDeadline($0, clock: clock) }
        var caller = ModelCaller(
            model: model, spend: controls.spend, retry: controls.retry, modelTimeout: controls.modelTimeout, random: controls.random,
            clock: clock, runID: context.runID)
        var action = loop.start()
        while true {
            // Consumed, so that the pending request does not hold the transcript's storage while
            // the loop appends to it.
            switch consume action {
            case .callModel(let request):
                let number = loop.steps.count + 1
                let isFinalAnswer = loop.isAskingForFinalAnswer
                if !isFinalAnswer, let deadline {
                    let passed = context.nextJournaledStepName.map { $0.hasPrefix("final-answer-") } ?? deadline.hasPassed
                    if passed {
                        action = loop.handle(.deadlinePassed(finalAnswer: controls.finalAnswerAtDeadline))
                        continue
                    }
                }
                observer?(.modelCallStarted(step: number))
                do {
                    let (response, latency) = try await caller.call(
                        consume request, stepName: isFinalAnswer ? "final-answer-\(number)" : "model-\(number)", context: context,
                        streaming: configuration.streaming, observer: observer)
                    action = loop.handle(.modelResponded(response, latency: latency))
                } catch let refusal as BudgetExceeded {
                    action = loop.handle(.budgetRefused(refusal))
                } catch where modelFailures == .endTheLoop && !(error is RunSuspension) && !(error is CancellationError) {
                    let failure = ModelFailure(ModelError.classify(error))
                    logger.warning("model call failed", metadata: ["model": "\(identifier)", "code": "\(failure.code)"])
                    action = loop.handle(.modelFailed(failure))
                }
            case .runTools(let calls):
                if let team, let event = try await team.intercept(calls) {
                    action = loop.handle(event)
                    continue
                }
                for call in calls { observer?(.toolCallStarted(call)) }
                let results = try await toolSteps.run(calls, transcript: loop.transcript, context: context, runSpent: &caller.runSpent)
                for result in results { observer?(.toolCallFinished(result)) }
                action = loop.handle(.toolsFinished(results))
                if let observer, case .callModel = action, let last = loop.steps.last { observer(.stepFinished(last)) }
            case .finish(let outcome):
                if let team, case .completed(let answer) = outcome, let event = try await team.review(answer, step: loop.steps.count, in: context) {
                    action = loop.handle(event)
                    continue
                }
                if let observer, let last = loop.steps.last { observer(.stepFinished(last)) }
                return loop.result(outcome: outcome)
            }
        }
    }

    /// The successful results of earlier calls, by tool and canonical arguments.
    static func successfulResults(in transcript: Transcript) -> [String: String] {
        var calls: [String: ToolCall] = [:]
        var results: [String: String] = [:]
        for message in transcript.messages {
            switch message {
            case .assistant(let reply):
                for call in reply.toolCalls { calls[call.id] = call }
            case .tool(let result) where !result.isError:
                if let call = calls[result.callID] { results[toolCacheKey(call)] = result.content }
            default:
                break
            }
        }
        return results
    }
}
