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
        var loop = AgentLoop(instructions: instructions, prompt: prompt, tools: toolDefinitions, configuration: configuration)
        return try await drive(&loop, in: context, modelFailures: .failTheRun, observer: observer)
    }

    /// Runs `loop` as durable steps of `context` from where it stands, and leaves it there: for a
    /// workflow that continues a conversation — after a person's feedback on the answer,
    /// `loop.handle(.answerRejected(reason:))` and run it again in the same scope.
    public func run(_ loop: inout AgentLoop, in context: RunContext, observer: (@Sendable (AgentEvent) -> Void)? = nil) async throws -> AgentRunResult {
        try await drive(&loop, in: context, modelFailures: .failTheRun, observer: observer)
    }
}
