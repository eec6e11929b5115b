import Foundation
import KeelCore

/// A cap on spending: tokens (input plus output), US dollars, or both.
public struct Budget: Sendable, Hashable, Codable, CustomStringConvertible {
    public var maxTokens: Int?
    public var maxCostUSD: Double?

    public init(maxTokens: Int? = nil, maxCostUSD: Double? = nil) {
        self.maxTokens = maxTokens
        self.maxCostUSD = maxCostUSD
    }

    /// Whether the budget caps anything.
    public var isLimited: Bool { maxTokens != nil || maxCostUSD != nil }

    /// Whether spending `amount` on top of `spent` stays within the caps.
    public func allows(_ amount: Spend, after spent: Spend) -> Bool {
        if let maxTokens, spent.tokens.addingSaturating(amount.tokens) > maxTokens { return false }
        if let maxCostUSD, spent.costUSD + amount.costUSD > maxCostUSD + 1e-12 { return false }
        return true
    }

    /// The largest share of a cap that `spent` uses (1 is the whole cap).
    public func fractionUsed(by spent: Spend) -> Double {
        var fraction = 0.0
        if let maxTokens, maxTokens > 0 { fraction = max(fraction, Double(spent.tokens) / Double(maxTokens)) }
        if let maxCostUSD, maxCostUSD > 0 { fraction = max(fraction, spent.costUSD / maxCostUSD) }
        return fraction
    }

    public var description: String {
        [maxTokens.map { "\($0) tokens" }, maxCostUSD.map { String(format: "$%.4f", $0) }].compactMap { $0 }.joined(separator: " and ")
    }
}

/// Tokens and dollars spent (or about to be).
public struct Spend: Sendable, Hashable, Codable, CustomStringConvertible {
    public var tokens: Int
    public var costUSD: Double

    public init(tokens: Int = 0, costUSD: Double = 0) {
        self.tokens = tokens
        self.costUSD = costUSD
    }

    public static let zero = Spend()

    public static func + (lhs: Spend, rhs: Spend) -> Spend {
        Spend(tokens: lhs.tokens.addingSaturating(rhs.tokens), costUSD: lhs.costUSD + rhs.costUSD)
    }

    public static func += (lhs: inout Spend, rhs: Spend) { lhs = lhs + rhs }

    public var description: String { "\(tokens) tokens, " + String(format: "$%.6f", costUSD) }
}

/// What a budget counts against: one run, or one tenant's calendar day (UTC).
public enum SpendScope: Sendable, Hashable, Codable, CustomStringConvertible {
    case run(String)
    case tenantDay(tenant: String, day: String)

    /// The tenant's scope for the day `date` falls on, in UTC.
    public static func tenant(_ tenant: String, on date: Date) -> SpendScope {
        .tenantDay(tenant: tenant, day: dayString(date))
    }

    /// `yyyy-MM-dd` in UTC.
    public static func dayString(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// A stable text key, such as `run:abc` or `tenant:acme:2026-11-22`.
    public var key: String {
        switch self {
        case .run(let id): "run:\(id)"
        case .tenantDay(let tenant, let day): "tenant:\(tenant):\(day)"
        }
    }

    public var description: String {
        switch self {
        case .run(let id): "run \(id)"
        case .tenantDay(let tenant, let day): "tenant \(tenant) on \(day)"
        }
    }
}

/// Why a call was refused: the scope whose cap it would break, the cap, what was spent and what
/// the call could cost at worst.
public struct BudgetExceeded: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var scope: SpendScope
    public var limit: Budget
    public var spent: Spend
    public var worstCase: Spend
    /// Set when the cap is in dollars and the model has no price, so no call can be shown safe.
    public var unpricedModel: String?

    public init(scope: SpendScope, limit: Budget, spent: Spend, worstCase: Spend, unpricedModel: String? = nil) {
        self.scope = scope
        self.limit = limit
        self.spent = spent
        self.worstCase = worstCase
        self.unpricedModel = unpricedModel
    }

    public var description: String {
        if let unpricedModel {
            return "the budget of \(limit) is in dollars but \(unpricedModel) has no price; add it to the price table"
        }
        return "the next model call could cost up to \(worstCase), which with \(spent) already spent would break the budget of \(limit) for \(scope)"
    }
}
