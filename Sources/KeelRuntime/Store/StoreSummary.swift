/// How many runs, approvals and dead letters a store holds, by state — what gauges and dashboards
/// show. ``RunStore/summary(tenant:)`` counts them in one read.
public struct StoreSummary: Sendable, Hashable {
    /// Runs by status; a status with no run is absent.
    public var runs: [RunStatus: Int]
    /// Approvals by status; a status with no approval is absent.
    public var approvals: [ApprovalStatus: Int]
    /// Dead letters not yet resolved (their runs not reopened).
    public var openDeadLetters: Int

    public init(runs: [RunStatus: Int] = [:], approvals: [ApprovalStatus: Int] = [:], openDeadLetters: Int = 0) {
        self.runs = runs
        self.approvals = approvals
        self.openDeadLetters = openDeadLetters
    }

    /// Approvals waiting for a person: pending and escalated.
    public var waitingApprovals: Int { (approvals[.pending] ?? 0) + (approvals[.escalated] ?? 0) }

    /// Adds one counted row, `kind` being `run`, `approval` or `dead_letter`; a status the store
    /// does not know (a row written by a newer Keel) is left out rather than miscounted.
    package mutating func add(kind: String, status: String, count: Int) {
        switch kind {
        case "run": if let status = RunStatus(rawValue: status) { runs[status, default: 0] += count }
        case "approval": if let status = ApprovalStatus(rawValue: status) { approvals[status, default: 0] += count }
        case "dead_letter": openDeadLetters += count
        default: break
        }
    }
}
