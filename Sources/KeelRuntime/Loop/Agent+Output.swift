import KeelCore

/// The result of a typed run: the value, when the final answer met the output contract, and the
/// whole run (outcome, steps, transcript and usage) whatever happened.
public struct AgentOutput<Output: Sendable>: Sendable {
    /// The decoded answer; `nil` unless the run completed with valid output.
    public var value: Output?
    public var result: AgentRunResult

    public init(value: Output?, result: AgentRunResult) {
        self.value = value
        self.result = result
    }

    /// How the run ended: ``AgentOutcome/completed(answer:)`` (with ``value``),
    /// ``AgentOutcome/invalidOutput(_:)`` with the raw text kept, or any other outcome.
    public var outcome: AgentOutcome { result.outcome }
}

extension AgentOutput: Equatable where Output: Equatable {}
extension AgentOutput: Hashable where Output: Hashable {}
extension AgentOutput: Codable where Output: Codable {}

extension Agent {
    /// Runs the agent on one prompt for an answer of type `Output`.
    ///
    /// The provider is asked for JSON that matches `Output`'s schema (OpenAI's `response_format`,
    /// strict when the schema allows it; a forced output tool on Anthropic). A final answer that
    /// is not JSON, breaks the schema or does not decode goes back to the model with what is wrong,
    /// up to ``AgentConfiguration/maxOutputRepairs`` times; every call is a metered step like any
    /// other. Then the run ends with ``AgentOutcome/invalidOutput(_:)``, the raw text kept.
    ///
    /// ```swift
    /// @Schema
    /// struct Verdict: Codable { var approved: Bool; var reason: String }
    ///
    /// let output = await agent.run("Review this change: …", returning: Verdict.self)
    /// if let verdict = output.value { print(verdict.approved) }
    /// ```
    public func run<Output: Decodable & SchemaRepresentable & Sendable>(
        _ prompt: String, returning type: Output.Type, observer: (@Sendable (AgentEvent) -> Void)? = nil
    ) async -> AgentOutput<Output> {
        let contract = OutputContract.decoding(Output.self)
        let loop = AgentLoop(instructions: instructions, prompt: prompt, tools: toolDefinitions, configuration: configuration, output: contract)
        return Self.output(of: await run(loop, observer: observer), contract: contract)
    }

    /// ``run(_:returning:observer:)`` as durable steps of `context` (see ``run(_:in:observer:)``):
    /// the repairs are journaled steps too, so a resumed run does not ask again.
    public func run<Output: Decodable & SchemaRepresentable & Sendable>(
        _ prompt: String, returning type: Output.Type, in context: RunContext, observer: (@Sendable (AgentEvent) -> Void)? = nil
    ) async throws -> AgentOutput<Output> {
        let contract = OutputContract.decoding(Output.self)
        var loop = AgentLoop(instructions: instructions, prompt: prompt, tools: toolDefinitions, configuration: configuration, output: contract)
        return Self.output(of: try await drive(&loop, in: context, modelFailures: .failTheRun, observer: observer), contract: contract)
    }

    static func output<Output: Decodable & Sendable>(of result: AgentRunResult, contract: OutputContract) -> AgentOutput<Output> {
        guard case .completed(let answer) = result.outcome, case .success(let value) = contract.check(answer) else {
            return AgentOutput(value: nil, result: result)
        }
        return AgentOutput(value: try? value.decode(as: Output.self), result: result)
    }
}
