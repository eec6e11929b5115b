import Foundation
import KeelCore

/// A question for a person: may this tool call run? (or, for a side effect in doubt: did it
/// happen?)
public struct ApprovalRequest: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A call a policy holds for approval.
        case toolCall = "tool_call"
        /// A side-effecting call found started but unfinished after a crash: approving runs it
        /// again with the same idempotency key; denying records that it did happen.
        case inDoubt = "in_doubt"
    }

    /// Stable per tool call: `run id:position`, so parallel calls get distinct ids.
    public var id: String
    public var kind: Kind
    public var runID: String
    public var sequence: Int
    public var tool: String
    /// The arguments as the model wrote them.
    public var arguments: String
    /// Why approval is needed.
    public var reason: String
    public var requestedAt: Date
    /// When the request times out, if it does.
    public var expiresAt: Date?
    public var onTimeout: ApprovalTimeoutPolicy

    public init(
        id: String, kind: Kind, runID: String, sequence: Int, tool: String, arguments: String, reason: String, requestedAt: Date = Date(),
        expiresAt: Date? = nil, onTimeout: ApprovalTimeoutPolicy = .deny
    ) {
        self.id = id
        self.kind = kind
        self.runID = runID
        self.sequence = sequence
        self.tool = tool
        self.arguments = arguments
        self.reason = reason
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
        self.onTimeout = onTimeout
    }
}

/// A person's answer to an approval request.
public enum ApprovalDecision: Sendable, Hashable, Codable {
    case approve
    /// Approve, but run the call with these arguments (JSON text) instead.
    case approveWithArguments(String)
    case deny(reason: String)

    /// Whether the call may run.
    public var isApproval: Bool {
        if case .deny = self { return false }
        return true
    }
}

/// Where an approval stands.
public enum ApprovalStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case pending, approved, denied, expired, escalated
}

/// An approval request with its decision, as the store keeps it.
public struct ApprovalRecord: Sendable, Hashable, Codable {
    public var request: ApprovalRequest
    public var status: ApprovalStatus
    public var decision: ApprovalDecision?
    /// Who decided.
    public var decidedBy: String?
    public var decidedAt: Date?

    public init(request: ApprovalRequest, status: ApprovalStatus, decision: ApprovalDecision? = nil, decidedBy: String? = nil, decidedAt: Date? = nil) {
        self.request = request
        self.status = status
        self.decision = decision
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
    }

    /// The signal the store sends the run when the request is decided.
    public static func signalName(for id: String) -> String { "approval:\(id)" }

    /// Whether `name` is an approval's signal: only a decision recorded by the store wakes a run
    /// waiting for one, so a signal by that name is refused (a forged one woke the run, which found
    /// the approval still pending and waited again, over and over).
    public static func isReservedSignalName(_ name: String) -> Bool { name.hasPrefix("approval:") }
}

/// A decision as a run journals it.
public struct ApprovalOutcome: Sendable, Hashable, Codable {
    public var decision: ApprovalDecision
    public var decidedBy: String
    /// Whether the decision came from the timeout policy rather than a person.
    public var timedOut: Bool

    public init(decision: ApprovalDecision, decidedBy: String, timedOut: Bool) {
        self.decision = decision
        self.decidedBy = decidedBy
        self.timedOut = timedOut
    }
}

extension ApprovalRecord {
    /// Throws ``StoreError/Code/invalidState`` unless this approval may still be decided with
    /// `decision`: it is pending or escalated (a decision is single-use), and edited arguments are
    /// a JSON object. For store implementations.
    public func checkDecidable(with decision: ApprovalDecision) throws {
        guard status == .pending || status == .escalated else {
            let who = decidedBy.map { " by \($0)" } ?? ""
            throw StoreError(.invalidState, "approval \(request.id) is already \(status.rawValue)\(who); a decision is single-use")
        }
        if case .approveWithArguments(let arguments) = decision, (try? JSONValue(parsing: arguments))?.objectValue == nil {
            throw StoreError(.invalidState, "the edited arguments of approval \(request.id) must be a JSON object")
        }
    }

    /// The audit record of deciding this approval with `decision`.
    public func auditRecord(deciding decision: ApprovalDecision, by actor: String) -> AuditRecord {
        let text: String
        switch decision {
        case .approve: text = "approved"
        case .approveWithArguments(let arguments): text = "approved with edited arguments \(AuditRecord.digest(ofArguments: arguments))"
        case .deny(let reason): text = "denied: \(reason)"
        }
        return AuditRecord(
            runID: request.runID, step: request.sequence, tool: request.tool, action: .approval,
            argumentsDigest: AuditRecord.digest(ofArguments: request.arguments), decision: text, actor: actor)
    }
}
