import KeelCore

/// How an agent run ended. Whatever the outcome, the run's transcript and usage are kept.
public enum AgentOutcome: Sendable, Hashable, Codable {
    /// The model gave a final answer.
    case completed(answer: String)
    /// The model was still calling tools after the configured number of model calls.
    case stepLimitReached(steps: Int)
    /// The same tool failed with the same arguments this many times in a row.
    case noProgress(tool: String, arguments: String, failures: Int)
    /// A model call failed and was not recovered.
    case modelFailed(ModelFailure)
    /// The next model call could have broken a budget, so it was not made.
    case budgetExceeded(BudgetExceeded)
    /// The run's deadline passed; `answer` is the final answer the model gave with what it had,
    /// when it was asked for one.
    case deadlineReached(answer: String?)
    /// The run asked for output of a schema (``Agent/run(_:returning:observer:)``) and the final
    /// answer still did not match it after ``AgentConfiguration/maxOutputRepairs`` repairs.
    case invalidOutput(InvalidOutput)
    /// An input or output guardrail stopped the run (``InputGuardrail``, ``OutputGuardrail``).
    case guardrailTripped(GuardrailTrip)
    /// The model handed the conversation to the agent `to` (``Handoff``). A run's result ends with
    /// it only when the agent cannot be handed to (a loop run on its own, or past
    /// ``AgentConfiguration/maxHandoffs``); otherwise that agent's outcome is the run's.
    case handedOff(to: String)

    /// Whether the run reached a final answer.
    public var isCompleted: Bool {
        if case .completed = self { return true }
        return false
    }

    /// A short name for the outcome, safe as a metric label: `completed`, `step_limit`,
    /// `no_progress`, `model_failed`, `budget_exceeded`, `deadline_reached`, `invalid_output`, `guardrail_tripped`, `handed_off`.
    public var kind: String {
        switch self {
        case .completed: "completed"
        case .stepLimitReached: "step_limit"
        case .noProgress: "no_progress"
        case .modelFailed: "model_failed"
        case .budgetExceeded: "budget_exceeded"
        case .deadlineReached: "deadline_reached"
        case .invalidOutput: "invalid_output"
        case .guardrailTripped: "guardrail_tripped"
        case .handedOff: "handed_off"
        }
    }
}

/// A model failure as recorded in an outcome: its class and message.
public struct ModelFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: ModelError.Code
    public var message: String
    public var statusCode: Int?

    public init(_ error: ModelError) {
        code = error.code
        message = error.message
        statusCode = error.statusCode
    }

    public var description: String {
        var text = "\(code)"
        if let statusCode { text += " (HTTP \(statusCode))" }
        return text + ": \(message)"
    }
}

/// A final answer that did not match the output schema, kept as the model wrote it.
public struct InvalidOutput: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The model's last answer, unchanged.
    public var raw: String
    /// What is wrong with it: not JSON, the schema's violations, or the decoding error.
    public var problem: String
    /// How many times an answer went back to the model with its problem.
    public var repairs: Int

    public init(raw: String, problem: String, repairs: Int) {
        self.raw = raw
        self.problem = problem
        self.repairs = repairs
    }

    public var description: String { "the answer does not match the output schema after \(repairs) repair\(repairs == 1 ? "" : "s"): \(problem)" }
}
