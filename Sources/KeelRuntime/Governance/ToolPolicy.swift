import Foundation
import KeelCore

/// A capability a tool needs and an agent or run may be granted: `read`, `write`, `execute`,
/// `spend`, or your own.
public struct Permission: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public static let read = Permission("read")
    public static let write = Permission("write")
    public static let execute = Permission("execute")
    public static let spend = Permission("spend")

    public var description: String { rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try String(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try rawValue.encode(to: encoder) }
}

/// The rules a tool call must pass before it runs, checked in this order: permission, argument
/// rules, rate limit and quotas, budget, approval. A refusal becomes a tool result the model reads,
/// with the reason; it never crashes the run.
///
/// ```swift
/// var transfer = ToolPolicy(permissions: [.spend])
/// transfer.argumentRules = [.allow("/currency", values: ["EUR", "USD"])]
/// transfer.maxCallsPerRun = 3
/// transfer.costPerCallUSD = 0.01
/// transfer.approval = .when("over 1,000") { ($0["amount"]?.doubleValue ?? 0) > 1_000 }
/// ```
public struct ToolPolicy: Sendable {
    /// Permissions the agent or run must hold. Default: none.
    public var permissions: Set<Permission>
    /// Rules on the arguments, checked in order. Default: none.
    public var argumentRules: [ArgumentRule] = []
    /// Calls allowed per minute in this process, across runs. Default: unlimited.
    public var callsPerMinute: Int?
    /// Calls allowed in one run. Default: unlimited.
    public var maxCallsPerRun: Int?
    /// Calls allowed per tenant per UTC day, across runs and processes. Default: unlimited.
    public var maxCallsPerTenantPerDay: Int?
    /// What one call costs in US dollars, counted against the run's and the tenant's budgets.
    /// Default: nothing.
    public var costPerCallUSD: Double?
    /// When a person must approve the call first. Default: ``ApprovalRequirement/never``.
    public var approval: ApprovalRequirement = .never
    /// How long an approval may wait for a decision. Default: forever.
    public var approvalTimeout: Duration?
    /// What happens when it waited that long. Default: ``ApprovalTimeoutPolicy/deny``.
    public var onApprovalTimeout: ApprovalTimeoutPolicy = .deny

    public init(permissions: Set<Permission> = [], approval: ApprovalRequirement = .never) {
        self.permissions = permissions
        self.approval = approval
    }
}

/// A rule on a tool call's arguments. It returns why the arguments are refused, or `nil`.
public struct ArgumentRule: Sendable {
    /// What the rule checks, for audit entries and refusals.
    public let description: String
    let check: @Sendable (JSONValue) -> String?

    /// A rule from a description and a check that returns the reason for a refusal.
    public init(_ description: String, check: @escaping @Sendable (JSONValue) -> String?) {
        self.description = description
        self.check = check
    }

    /// The value at `pointer` (a JSON Pointer such as `/to/domain`) must be one of `values`.
    public static func allow(_ pointer: String, values: [JSONValue]) -> ArgumentRule {
        ArgumentRule("\(pointer) in \(values.map(\.description).joined(separator: ", "))") { arguments in
            let value = arguments.value(atPointer: pointer) ?? .null
            return values.contains(value) ? nil : "\(pointer) must be one of \(values.map(\.description).joined(separator: ", ")), not \(value)"
        }
    }

    /// The value at `pointer` must not be one of `values`.
    public static func deny(_ pointer: String, values: [JSONValue]) -> ArgumentRule {
        ArgumentRule("\(pointer) not in \(values.map(\.description).joined(separator: ", "))") { arguments in
            let value = arguments.value(atPointer: pointer) ?? .null
            return values.contains(value) ? "\(pointer) may not be \(value)" : nil
        }
    }

    /// The value at `pointer` (`nil` when absent) must satisfy `predicate`, described by
    /// `requirement` (such as "at most 1,000").
    public static func require(_ pointer: String, _ requirement: String, _ predicate: @escaping @Sendable (JSONValue?) -> Bool) -> ArgumentRule {
        ArgumentRule("\(pointer) \(requirement)") { arguments in
            predicate(arguments.value(atPointer: pointer)) ? nil : "\(pointer) must be \(requirement)"
        }
    }
}

/// When a tool call needs a person's approval.
public enum ApprovalRequirement: Sendable {
    case never
    case always
    /// When `predicate` holds for the arguments; `reason` says why (such as "a transfer over 1,000").
    case when(_ reason: String, _ predicate: @Sendable (JSONValue) -> Bool)

    /// Why `arguments` need approval, or `nil` when they do not.
    func reason(for arguments: JSONValue, tool: String) -> String? {
        switch self {
        case .never: nil
        case .always: "every call of \(tool) needs approval"
        case .when(let reason, let predicate): predicate(arguments) ? reason : nil
        }
    }
}

/// What happens to an approval nobody decided in time.
public enum ApprovalTimeoutPolicy: String, Sendable, Hashable, Codable {
    /// The call is denied; the model reads why.
    case deny
    /// An alert goes out and the approval keeps waiting, without a time limit.
    case escalate
    /// The run fails (and is a dead letter).
    case fail
}
