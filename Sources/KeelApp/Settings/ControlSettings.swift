import Foundation
import KeelCore
import KeelRuntime

/// Budgets, pacing, retries and the deadline as a durable run remembers them, so that a resumed
/// run keeps the controls it started with.
public struct ControlSettings: Codable, Sendable, Hashable {
    /// The run's caps.
    public var maxCostUSD: Double?
    public var maxTokens: Int?
    /// The tenant the run's spending counts against, and that tenant's caps per UTC day.
    public var tenant: String?
    public var tenantDailyCostUSD: Double?
    public var tenantDailyTokens: Int?
    /// The provider tier's limits, paced to.
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Attempts per model call on transient errors.
    public var attempts: Int?
    /// How long one model call may take.
    public var modelTimeoutMilliseconds: Int?
    /// Prices that override the defaults, read from `--prices` by the process that started the
    /// run and kept as data: the process that resumes it reads no file an input names.
    public var prices: [String: ModelPrice]?
    /// A price file named by runs of an earlier Keel; never read (see ``prices``).
    public var pricesPath: String?
    /// A webhook for alerts; used only where the running process allows it (``RunAuthority``).
    public var alertURL: String?

    public init(
        maxCostUSD: Double? = nil, maxTokens: Int? = nil, tenant: String? = nil, tenantDailyCostUSD: Double? = nil, tenantDailyTokens: Int? = nil,
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, attempts: Int? = nil, modelTimeoutMilliseconds: Int? = nil,
        prices: [String: ModelPrice]? = nil, alertURL: String? = nil
    ) {
        self.maxCostUSD = maxCostUSD
        self.maxTokens = maxTokens
        self.tenant = tenant
        self.tenantDailyCostUSD = tenantDailyCostUSD
        self.tenantDailyTokens = tenantDailyTokens
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.attempts = attempts
        self.modelTimeoutMilliseconds = modelTimeoutMilliseconds
        self.prices = prices
        self.alertURL = alertURL
    }

    /// The model with pacing, when limits are set: one limiter per provider, key and model from
    /// `limiters`, shared by every run that uses them — by every worker, with a PostgreSQL
    /// store's (``OpenedStore/rateLimiters``).
    public func pace(_ model: any ChatModel, spec: ModelSpec, limiters: RateLimiters = .shared) -> any ChatModel {
        let limits = RateLimits(requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
        guard limits.isLimited else { return model }
        // The same in every process: a fingerprint of the API key, never the key itself.
        let fingerprint = SHA256.hexDigest(ProcessInfo.processInfo.environment["OPENAI_API_KEY"] ?? "").prefix(16)
        let key = [spec.spec, spec.baseURL ?? "", String(fingerprint)].joined(separator: "|")
        return RateLimitedModel(model, limiter: limiters.limiter(for: key, limits: limits))
    }

    /// The spending controls, with `ledger` holding tenant budgets and `alerts` for thresholds.
    /// The controls of an agent or a node that runs under these settings: the spend controls
    /// (when they limit anything), the retry policy and the model timeout.
    public func agentControls(ledger: any SpendLedger, alerts: any AlertHook) -> AgentControls {
        var controls = AgentControls()
        let spend = spendControls(ledger: ledger, alerts: alerts)
        if spend.isLimited { controls.spend = spend }
        controls.retry = retry
        controls.modelTimeout = modelTimeout
        return controls
    }

    public func spendControls(ledger: any SpendLedger, alerts: any AlertHook) -> SpendControls {
        var controls = SpendControls()
        controls.prices = priceTable
        if maxCostUSD != nil || maxTokens != nil { controls.runBudget = Budget(maxTokens: maxTokens, maxCostUSD: maxCostUSD) }
        controls.tenant = tenant
        if tenantDailyCostUSD != nil || tenantDailyTokens != nil {
            controls.tenantDailyBudget = Budget(maxTokens: tenantDailyTokens, maxCostUSD: tenantDailyCostUSD)
        }
        controls.ledger = ledger
        controls.alerts = alerts
        return controls
    }

    /// The default prices with the run's overrides.
    public var priceTable: PriceTable {
        prices.map { PriceTable.defaults.merging(PriceTable($0)) } ?? .defaults
    }

    /// The retry policy of ``attempts`` (3 by default).
    public var retry: RetryPolicy {
        RetryPolicy(maxAttempts: attempts ?? 3)
    }

    /// How long one model call may take, if limited.
    public var modelTimeout: Duration? { modelTimeoutMilliseconds.map { .milliseconds($0) } }
}
