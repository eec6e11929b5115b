import Foundation
import KeelCore
import Logging

extension RunContext {
    /// A model call as a durable step, with the controls an ``Agent`` has: the budgets checked
    /// against the call's worst case before it is made (and its tenant reservation renewed while
    /// it runs), retries with the policy's backoff and `adjust`, the model timeout, fallback (a
    /// ``FallbackModel``), rate limits (a ``RateLimitedModel``), and metering — the usage and cost
    /// journaled with the reply and settled against the ledger.
    ///
    /// ```swift
    /// let reply = try await context.model(writer, ChatRequest(messages: [.user(brief)], maxOutputTokens: 800), name: "draft", controls: controls)
    /// ```
    ///
    /// The run's budget counts what the run's model steps have spent so far, in every scope
    /// (``spent``). Replayed, the step returns the journaled reply without checking or charging
    /// again. Throws ``BudgetExceeded`` before calling when the call could break a budget, and the
    /// model's error (classified, ``KeelCore/ModelError``) when its attempts are spent.
    ///
    /// With `textDeltas`, the reply is streamed and each piece of its text is passed on as it
    /// arrives (not on replay: a replayed step has no stream); the step journals the whole reply
    /// as without it.
    public func model(
        _ model: any ChatModel, _ request: ChatRequest, name: String, controls: AgentControls = AgentControls(),
        clock: any Clock<Duration> = ContinuousClock(), textDeltas: (@Sendable (String) -> Void)? = nil
    ) async throws -> ChatResponse {
        var caller = ModelCaller(
            model: model, spend: controls.spend, retry: controls.retry, modelTimeout: controls.modelTimeout, random: controls.random, clock: clock,
            runID: runID)
        caller.runSpent = spent
        guard let textDeltas else { return try await caller.call(request, stepName: name, context: self, streaming: false, observer: nil).0 }
        let observer: @Sendable (AgentEvent) -> Void = { event in
            if case .textDelta(let text) = event { textDeltas(text) }
        }
        return try await caller.call(request, stepName: name, context: self, streaming: true, observer: observer).0
    }

    /// Tool calls as durable steps, with the controls an ``Agent`` gives its tools: governance
    /// (permissions, argument rules, rate limits and quotas, the budget, durable approval — each
    /// verdict and call audited), the tool timeout, caching, parallel calls under the cap, and a
    /// side-effecting tool journaled as started first, with an idempotency key and its in-doubt
    /// policy. Returns one result per call, in call order: a refusal, a denial, bad arguments or a
    /// failure is a result (``KeelCore/ToolResult/isError``), not an error.
    ///
    /// A call that needs approval makes the run wait (the workflow must let the suspension pass);
    /// resumed after the decision, the calls replay and the approved one runs.
    ///
    /// - Parameters:
    ///   - transcript: The conversation the calls come from, if any: per-run caching answers from
    ///     its earlier results, and per-run quotas count its earlier calls.
    public func tools(
        _ calls: [ToolCall], from tools: [AnyTool], controls: AgentControls = AgentControls(), configuration: AgentConfiguration = AgentConfiguration(),
        transcript: Transcript = Transcript(), clock: any Clock<Duration> = ContinuousClock()
    ) async throws -> [ToolResult] {
        var runSpent = spent
        let steps = ToolSteps(tools: tools, controls: controls, configuration: configuration, clock: clock, logger: logger)
        return try await steps.run(calls, transcript: transcript, context: self, runSpent: &runSpent)
    }
}
