import Foundation
import KeelCore

/// The governance of an agent's tools: policies by tool, the permissions granted, and who
/// approves in a run that cannot wait durably.
public struct ToolGovernance: Sendable {
    /// Policies by tool name.
    public var policies: [String: ToolPolicy]
    /// The policy of tools without their own. Default: none (they run ungoverned, but audited).
    public var defaultPolicy: ToolPolicy?
    /// Permissions granted to the agent (and so to its runs).
    public var granted: Set<Permission>
    /// Decides approvals in an in-memory run, which cannot wait for a person across processes.
    /// Durable runs ignore it: they wait for `keel approve`. Default: none (calls that need
    /// approval are refused).
    public var approver: (@Sendable (ApprovalRequest) async -> ApprovalDecision)?
    /// Where alerts about escalated approvals go. Default: the log.
    public var alerts: any AlertHook = LogAlertHook()
    /// The buckets of ``ToolPolicy/callsPerMinute``, shared by the copies of this governance (so by
    /// every run of an agent).
    let rateLimiters = ToolRateLimiters()

    public init(policies: [String: ToolPolicy] = [:], defaultPolicy: ToolPolicy? = nil, granted: Set<Permission> = []) {
        self.policies = policies
        self.defaultPolicy = defaultPolicy
        self.granted = granted
    }

    func policy(for tool: String) -> ToolPolicy? {
        policies[tool] ?? defaultPolicy
    }
}

/// The verdict of a call's policy checks, journaled so that replay gives the same.
struct PolicyVerdict: Sendable, Hashable, Codable {
    /// Why the call is refused, or `nil`.
    var refusal: String?
    /// Why the call needs approval, or `nil`.
    var approvalReason: String?
    /// The dollars the call costs against budgets.
    var costUSD: Double?
}
