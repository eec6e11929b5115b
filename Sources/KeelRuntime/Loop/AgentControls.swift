import Foundation
import KeelCore

/// The production controls of an agent: budgets, retries, timeouts, a deadline and caching.
///
/// ```swift
/// var controls = AgentControls()
/// controls.spend = SpendControls()
/// controls.spend?.runBudget = Budget(maxCostUSD: 0.50)
/// controls.retry = RetryPolicy(maxAttempts: 4)
/// controls.modelTimeout = .seconds(60)
/// let agent = Agent(model: model, tools: tools, controls: controls)
/// ```
public struct AgentControls: Sendable {
    /// Budgets, prices and alerts; `nil` spends without limit. Default: `nil`.
    public var spend: SpendControls?
    /// How a failed model call is retried. Default: ``RetryPolicy/init(maxAttempts:initialBackoff:maxBackoff:retryOn:maxRetryAfter:adjust:)``
    /// (3 attempts, transient errors).
    public var retry: RetryPolicy = RetryPolicy()
    /// How long one model call may take before it fails as a timeout (and is retried). Default: none
    /// (the provider's request timeout applies).
    public var modelTimeout: Duration?
    /// When the run must stop. For a durable run, the run's own deadline is used if this is `nil`.
    /// Default: none.
    public var deadline: Date?
    /// What happens at the deadline: ask the model for a final answer with what it has
    /// (`true`), or stop at once. Default: `true`.
    public var finalAnswerAtDeadline: Bool = true
    /// Which tool results are reused. Default: ``ToolCaching/none``.
    public var toolCaching: ToolCaching = .none
    /// Caching for particular tools, by name, overriding ``toolCaching``. Default: none.
    public var toolCachingByName: [String: ToolCaching] = [:]
    /// Policies, permissions and approvals for the agent's tools; `nil` runs every tool ungoverned
    /// and unaudited. Default: `nil`.
    public var governance: ToolGovernance?
    /// Where shared tool results are kept. Default: one cache for this process.
    public var toolCache: any ToolResultCache = InMemoryToolResultCache.shared
    /// A number in 0…1 for backoff jitter (injected in tests). Default: random.
    public var random: @Sendable () -> Double = { Double.random(in: 0...1) }

    public init() {}

    func caching(for tool: String) -> ToolCaching {
        toolCachingByName[tool] ?? toolCaching
    }
}

extension InMemoryToolResultCache {
    /// The process-wide cache agents share unless given another.
    public static let shared = InMemoryToolResultCache()
}
