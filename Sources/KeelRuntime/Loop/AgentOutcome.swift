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

    /// Whether the run reached a final answer.
    public var isCompleted: Bool {
        if case .completed = self { return true }
        return false
    }

    /// A short name for the outcome, safe as a metric label: `completed`, `step_limit`,
    /// `no_progress`, `model_failed`, `budget_exceeded`, `deadline_reached`.
    public var kind: String {
        switch self {
        case .completed: "completed"
        case .stepLimitReached: "step_limit"
        case .noProgress: "no_progress"
        case .modelFailed: "model_failed"
        case .budgetExceeded: "budget_exceeded"
        case .deadlineReached: "deadline_reached"
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
