import Foundation
import KeelCore

/// What a guardrail decided about an input or an answer.
public struct GuardrailVerdict: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable {
        /// The text may go on.
        case pass
        /// The run ends with ``AgentOutcome/guardrailTripped(_:)``.
        case trip
        /// An answer goes back to the model with ``GuardrailVerdict/reason`` (an output
        /// guardrail, while it has retries left; then it trips).
        case retry
    }

    public var action: Action
    /// Why, when it did not pass: what the run's outcome or the model reads.
    public var reason: String?

    public init(_ action: Action, reason: String? = nil) {
        self.action = action
        self.reason = reason
    }

    public static let pass = GuardrailVerdict(.pass)
    public static func trip(_ reason: String) -> GuardrailVerdict { GuardrailVerdict(.trip, reason: reason) }
    public static func retry(_ reason: String) -> GuardrailVerdict { GuardrailVerdict(.retry, reason: reason) }
}

/// A guardrail that stopped a run: which, where, and why.
public struct GuardrailTrip: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Stage: String, Sendable, Hashable, Codable {
        /// On the user's input, before any side effect.
        case input
        /// On the final answer.
        case output
    }

    public var guardrail: String
    public var stage: Stage
    public var reason: String

    public init(guardrail: String, stage: Stage, reason: String) {
        self.guardrail = guardrail
        self.stage = stage
        self.reason = reason
    }

    public var description: String { "the \(stage.rawValue) guardrail \(guardrail) tripped: \(reason)" }
}

/// A check of the user's input, in code or by a model.
///
/// It runs before the first model call (``Timing/beforeModel``) or at the same time
/// (``Timing/parallel``: the model's first reply is not waited for, but no side-effecting tool
/// runs, no handoff happens and no answer is given until every input guardrail has passed). A
/// tripped guardrail ends the run with ``AgentOutcome/guardrailTripped(_:)``; calls the model
/// already asked for are answered as not run.
///
/// A guardrail runs in its own scope of the run (`guardrail-<name>`): a code check's verdict is a
/// step there, a model check's call a metered step, so a resumed run does not check again.
public struct InputGuardrail: Sendable {
    public enum Timing: Sendable, Hashable {
        case beforeModel
        case parallel
    }

    public var name: String
    public var timing: Timing
    let check: @Sendable (_ input: String, _ scope: RunContext) async throws -> GuardrailVerdict

    /// A check in code. It should decide from the input alone: its verdict is journaled.
    public init(_ name: String, timing: Timing = .beforeModel, check: @escaping @Sendable (_ input: String) async throws -> GuardrailVerdict) {
        self.name = name
        self.timing = timing
        self.check = { input, scope in try await scope.step("verdict") { try await check(input) } }
    }

    /// A check that runs steps of its own in `scope` (a model call with controls, a tool call).
    public init(_ name: String, timing: Timing = .beforeModel, steps: @escaping @Sendable (_ input: String, _ scope: RunContext) async throws -> GuardrailVerdict) {
        self.name = name
        self.timing = timing
        self.check = steps
    }

    /// A check by a model, which reads `policy` and the input and answers whether the input breaks
    /// it (see ``ModelGuardrail``).
    public static func model(
        _ name: String, model: any ChatModel, policy: String, timing: Timing = .beforeModel, controls: AgentControls = AgentControls()
    ) -> InputGuardrail {
        InputGuardrail(name, timing: timing) { input, scope in
            try await ModelGuardrail.verdict(of: input, model: model, policy: policy, controls: controls, in: scope, retries: false)
        }
    }
}

/// A check of the final answer, in code or by a model. It may pass, trip (the run ends with
/// ``AgentOutcome/guardrailTripped(_:)``) or send the answer back to the model with its reason
/// (``GuardrailVerdict/retry(_:)``) up to ``maxRetries`` times — then it trips.
public struct OutputGuardrail: Sendable {
    public var name: String
    /// How many times an answer may go back to the model. Default: 2.
    public var maxRetries: Int
    let check: @Sendable (_ answer: String, _ scope: RunContext) async throws -> GuardrailVerdict

    /// A check in code. It should decide from the answer alone: its verdict is journaled.
    public init(_ name: String, maxRetries: Int = 2, check: @escaping @Sendable (_ answer: String) async throws -> GuardrailVerdict) {
        self.name = name
        self.maxRetries = max(0, maxRetries)
        self.check = { answer, scope in try await scope.step("verdict") { try await check(answer) } }
    }

    /// A check that runs steps of its own in `scope`.
    public init(_ name: String, maxRetries: Int = 2, steps: @escaping @Sendable (_ answer: String, _ scope: RunContext) async throws -> GuardrailVerdict) {
        self.name = name
        self.maxRetries = max(0, maxRetries)
        self.check = steps
    }

    /// A check by a model, which reads `policy` and the answer; an answer that breaks it goes back
    /// with the model's reason while retries are left.
    public static func model(
        _ name: String, model: any ChatModel, policy: String, maxRetries: Int = 2, controls: AgentControls = AgentControls()
    ) -> OutputGuardrail {
        OutputGuardrail(name, maxRetries: maxRetries) { answer, scope in
            try await ModelGuardrail.verdict(of: answer, model: model, policy: policy, controls: controls, in: scope, retries: true)
        }
    }
}

/// How a model checks text against a policy: it is asked for `{"allowed": bool, "reason": "…"}`;
/// a reply that is not that JSON counts as a failure to allow (the check fails closed).
public enum ModelGuardrail {
    /// The instructions the checking model reads before the policy.
    public static let instructions = """
        You check text against a policy. Reply with JSON only: {"allowed": true or false, "reason": "one sentence"}.
        """

    static func verdict(
        of text: String, model: any ChatModel, policy: String, controls: AgentControls, in scope: RunContext, retries: Bool
    ) async throws -> GuardrailVerdict {
        let request = ChatRequest(
            messages: [.system("\(instructions)\nPolicy: \(policy)"), .user(text)], maxOutputTokens: 200, temperature: 0,
            responseFormat: .jsonObject)
        let reply = try await scope.model(model, request, name: "check", controls: controls)
        let json = try? JSONValue(parsing: String(OutputContract.unfenced(reply.message.text ?? "")))
        let reason = json?["reason"]?.stringValue ?? "the checking model's reply was not the JSON asked for"
        guard let allowed = json?["allowed"]?.boolValue else { return .trip(reason) }
        if allowed { return .pass }
        return retries ? .retry(reason) : .trip(reason)
    }
}
