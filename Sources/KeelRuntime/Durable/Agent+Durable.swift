import KeelCore

extension Agent {
    /// Runs the agent as durable steps of a workflow: each model call and each tool call is a
    /// journaled step, so after a crash the run resumes mid-loop with its transcript, usage and
    /// step count, without calling the model again for steps already journaled.
    ///
    /// Tool calls of one reply run in parallel (up to ``AgentConfiguration/toolConcurrency``) at
    /// positions reserved in call order, so replay is deterministic. A side-effecting tool is
    /// journaled as started before it runs and receives the run's idempotency key for that
    /// position; found in doubt on resume, it follows ``AgentConfiguration/inDoubtPolicy``.
    ///
    /// A model call that fails is not journaled: the run fails with the model's error, and
    /// resuming it calls the model again from that step.
    public func run(_ prompt: String, in context: RunContext, observer: (@Sendable (AgentEvent) -> Void)? = nil) async throws -> AgentRunResult {
        var loop = AgentLoop(instructions: instructions, prompt: prompt, tools: tools.map(\.definition), configuration: configuration)
        let executor = toolExecutor
        let sideEffecting = Set(tools.filter(\.isSideEffecting).map(\.name))
        let model = self.model
        let identifier = model.identifier
        let configuration = self.configuration
        var action = loop.start()
        while true {
            switch action {
            case .callModel(let request):
                let number = loop.steps.count + 1
                observer?(.modelCallStarted(step: number))
                let response = try await context.step(
                    "model-\(number)", kind: .model, metering: { StepMetering(model: identifier, usage: $0.usage) }
                ) {
                    guard configuration.streaming else { return try await model.respond(to: request) }
                    return try await model.stream(request) { event in
                        if case .textDelta(let text) = event { observer?(.textDelta(text)) }
                    }
                }
                action = loop.handle(.modelResponded(response, latency: nil))
            case .runTools(let calls):
                for call in calls { observer?(.toolCallStarted(call)) }
                let positions = Array(context.reserveSequences(calls.count))
                let runID = context.runID
                let policy = configuration.inDoubtPolicy
                let results = try await concurrentMap(Array(zip(positions, calls)), limit: configuration.toolConcurrency) { _, pair in
                    let (sequence, call) = pair
                    let name = "tool-\(call.name)-\(call.id)"
                    if sideEffecting.contains(call.name) {
                        return try await context.sideEffect(at: sequence, name, kind: .tool, isSideEffecting: true, inDoubt: policy) { key in
                            await executor.run(call, context: ToolContext(callID: call.id, toolName: call.name, idempotencyKey: key, runID: runID))
                        }
                    }
                    return try await context.step(at: sequence, name, kind: .tool) {
                        await executor.run(call, context: ToolContext(callID: call.id, toolName: call.name, idempotencyKey: "\(runID):\(sequence)", runID: runID))
                    }
                }
                for result in results { observer?(.toolCallFinished(result)) }
                action = loop.handle(.toolsFinished(results))
                if case .callModel = action, let last = loop.steps.last { observer?(.stepFinished(last)) }
            case .finish(let outcome):
                if let last = loop.steps.last { observer?(.stepFinished(last)) }
                return loop.result(outcome: outcome)
            }
        }
    }
}
