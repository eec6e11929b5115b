import Foundation
import KeelCore
import Logging

/// Something an operator should hear about: a budget threshold crossed, or a run put in the
/// dead-letter queue.
public struct Alert: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case budgetThreshold = "budget_threshold"
        case deadLetter = "dead_letter"
        case approvalEscalated = "approval_escalated"
    }

    public var kind: Kind
    /// One line for people.
    public var message: String
    /// The budget scope (`run:…`, `tenant:…:day`), for budget alerts.
    public var scope: String?
    /// The share of the cap reached (0.8, 1.0 …), for budget alerts.
    public var threshold: Double?
    public var spent: Spend?
    public var limit: Budget?
    /// The run, for dead letters.
    public var runID: String?
    public var failure: RunFailure?
    public var date: Date

    public init(
        kind: Kind, message: String, scope: String? = nil, threshold: Double? = nil, spent: Spend? = nil, limit: Budget? = nil,
        runID: String? = nil, failure: RunFailure? = nil, date: Date = Date()
    ) {
        self.kind = kind
        self.message = message
        self.scope = scope
        self.threshold = threshold
        self.spent = spent
        self.limit = limit
        self.runID = runID
        self.failure = failure
        self.date = date
    }
}

/// Where alerts go. Implementations must not throw: an alert that cannot be delivered is logged.
public protocol AlertHook: Sendable {
    func send(_ alert: Alert) async
}

/// Logs each alert at `warning`.
public struct LogAlertHook: AlertHook {
    public var logger: Logger

    public init(logger: Logger = Logger(label: "keel.alerts")) {
        self.logger = logger
    }

    public func send(_ alert: Alert) async {
        logger.warning("\(alert.message)", metadata: ["kind": "\(alert.kind.rawValue)", "scope": "\(alert.scope ?? alert.runID ?? "")"])
    }
}

/// Sends each alert to every hook, in order.
public struct AlertHooks: AlertHook {
    public var hooks: [any AlertHook]

    public init(_ hooks: [any AlertHook]) {
        self.hooks = hooks
    }

    public func send(_ alert: Alert) async {
        for hook in hooks { await hook.send(alert) }
    }
}
