import Foundation
import KeelCore

/// A run that failed and waits for a person: its last error and where in its journal it stopped.
/// Retrying it resumes from the failed step, not from the start.
public struct DeadLetter: Sendable, Hashable, Codable {
    public var runID: String
    public var workflow: String
    public var tenant: String?
    public var failure: RunFailure
    /// How many completed steps the journal held when the run failed.
    public var journalLength: Int
    public var createdAt: Date
    /// When it was retried or otherwise dealt with.
    public var resolvedAt: Date?

    public init(runID: String, workflow: String, tenant: String?, failure: RunFailure, journalLength: Int, createdAt: Date, resolvedAt: Date? = nil) {
        self.runID = runID
        self.workflow = workflow
        self.tenant = tenant
        self.failure = failure
        self.journalLength = journalLength
        self.createdAt = createdAt
        self.resolvedAt = resolvedAt
    }
}

/// How to group costs.
public enum CostGrouping: String, Sendable, Hashable, CaseIterable, Codable {
    case run, model, tenant, day
}

/// Which metered steps to add up.
public struct CostQuery: Sendable, Hashable {
    public var groupBy: CostGrouping
    /// Only steps completed at or after this time.
    public var since: Date?
    public var tenant: String?
    public var runID: String?

    public init(groupBy: CostGrouping, since: Date? = nil, tenant: String? = nil, runID: String? = nil) {
        self.groupBy = groupBy
        self.since = since
        self.tenant = tenant
        self.runID = runID
    }
}

/// Tokens and dollars of one group of metered steps.
public struct CostRow: Sendable, Hashable, Codable {
    /// The run id, model, tenant (`-` for none) or day (`yyyy-MM-dd`, UTC).
    public var key: String
    public var steps: Int
    public var usage: Usage
    /// The sum of the steps' costs; steps of models without a price count as zero.
    public var costUSD: Double
    /// How many of the steps had no price.
    public var unpricedSteps: Int
    /// How many of the steps' usages Keel estimated, because the provider reported none; the
    /// usage is then marked ``KeelCore/Usage/isEstimated``.
    public var estimatedSteps: Int

    public init(key: String, steps: Int, usage: Usage, costUSD: Double, unpricedSteps: Int = 0, estimatedSteps: Int = 0) {
        self.key = key
        self.steps = steps
        self.usage = usage
        self.usage.isEstimated = usage.isEstimated || estimatedSteps > 0
        self.costUSD = costUSD
        self.unpricedSteps = unpricedSteps
        self.estimatedSteps = estimatedSteps
    }
}
