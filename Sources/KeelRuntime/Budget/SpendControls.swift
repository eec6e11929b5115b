import Foundation
import KeelCore
import Synchronization

/// The spending controls of a run: prices, budgets per run and per tenant per day, and alerts.
///
/// Before every model call the worst case is computed — the request's input tokens counted with a
/// real tokenizer (plus a margin for how providers count) and the call's maximum output tokens,
/// priced — and checked against the caps; a call that could break one is not made. Settled
/// spending fires each alert threshold once per scope.
public struct SpendControls: Sendable {
    /// Prices by model. Default: ``KeelCore/PriceTable/defaults``.
    public var prices: PriceTable = .defaults
    /// The cap for one run. Default: none.
    public var runBudget: Budget?
    /// The tenant the run's spending counts against. Default: none.
    public var tenant: String?
    /// The cap for the tenant per calendar day (UTC), across runs. Default: none.
    public var tenantDailyBudget: Budget?
    /// Where tenant spending is held. Default: a ledger for this process; use the store's for
    /// several processes.
    public var ledger: any SpendLedger = InMemorySpendLedger()
    /// Shares of a cap at which an alert fires, once each. Default: 80 % and 100 %.
    public var alertThresholds: [Double] = [0.8, 1.0]
    /// Where alerts go. Default: the log.
    public var alerts: any AlertHook = LogAlertHook()
    /// How long a reservation of a process that died holds its amount. A live call renews its
    /// reservation every third of this, so it holds for as long as the call runs. Default: 10 minutes.
    public var reservationLifetime: Duration = .seconds(600)
    /// Counts the tokens of a text for the worst case. Default: the model's tokenizer
    /// (`o200k_base` or `cl100k_base` for OpenAI's models, an estimate for Claude; see
    /// ``KeelCore/TokenEstimate/counter(forModel:)``).
    /// Give your provider's tokenizer for models that count differently. It must give the same
    /// count for the same text: counts are remembered.
    public var countTokens: (@Sendable (String) -> Int)?
    /// The counts of long texts already counted, shared by the copies of these controls: before
    /// each call of a run only what is new in the transcript is tokenized, not the whole of it.
    let counted = TokenCountCache()

    public init() {}

    /// Whether any cap is set.
    public var isLimited: Bool { (runBudget?.isLimited ?? false) || (tenant != nil && (tenantDailyBudget?.isLimited ?? false)) }

    /// The spend of `usage` on `model` at these prices (no price counts as free).
    public func spend(of usage: Usage, model: String) -> Spend {
        Spend(tokens: usage.totalTokens, costUSD: prices.cost(of: usage, model: model) ?? 0)
    }

    /// The most `request` can cost on `model`: its counted input tokens with a 10 % and
    /// 16-token margin, and its maximum output tokens. `priced` is `false` when the model has no
    /// price (and the cost is then 0).
    public func worstCase(of request: ChatRequest, model: String) throws -> (spend: Spend, priced: Bool) {
        try worstCase(of: request, servedByAnyOf: [model])
    }

    /// The most `request` can cost on whichever of `models` serves it — the models of a
    /// ``FallbackModel`` chain: the worst usage at the highest of their prices. `priced` is `false`
    /// when any of them has no price.
    ///
    /// `countedInput` is the provider's own count of the input (``KeelCore/TokenCountingModel``),
    /// used as it is instead of the counted input and its margin.
    public func worstCase(of request: ChatRequest, servedByAnyOf models: [String], countedInput: Int? = nil) throws -> (spend: Spend, priced: Bool) {
        let usage = try countedInput.map { Usage(inputTokens: min(max($0, 0), Usage.plausibleMaximum), outputTokens: request.maxOutputTokens) }
            ?? worstUsage(of: request, models: models)
        var cost = 0.0
        var priced = !models.isEmpty
        for model in models {
            guard var price = prices.price(for: model) else {
                priced = false
                continue
            }
            // The highest input rate, so that no mix of cached, cache-written and plain input costs more.
            price.inputPerMillion = price.highestInputPerMillion
            cost = max(cost, price.cost(of: usage))
        }
        return (Spend(tokens: usage.totalTokens, costUSD: cost), priced)
    }

    /// The most tokens `request` can use on any of `models`: its counted input with a 10 % and
    /// 16-token margin, and its maximum output.
    func worstUsage(of request: ChatRequest, models: [String] = []) throws -> Usage {
        let counter = try counter(for: models)
        let counted = self.counted
        let input = request.inputTokens { counted.count($0, countedBy: counter) }
        let worstInput = Int(min((Double(input) * 1.1).rounded(.up) + 16, Double(Usage.plausibleMaximum)))
        return Usage(inputTokens: worstInput, outputTokens: request.maxOutputTokens)
    }

    /// How the worst case is counted for `models`: ``countTokens`` when given, else the model's
    /// own count (``KeelCore/TokenEstimate/counter(forModel:)``) — Claude's estimate when any of
    /// them is Claude, which counts the most.
    func counter(for models: [String]) throws -> TokenCounter {
        if let countTokens { return TokenCounter(name: "custom", count: countTokens) }
        let model = models.first { $0.lowercased().contains("claude") } ?? models.first ?? ""
        return try TokenEstimate.counter(forModel: model)
    }
}

/// One model call admitted under the spending controls: its worst case and any reservation.
struct SpendAdmission: Sendable {
    var worstCase: Spend
    var reservation: SpendReservation?
}

extension SpendControls {
    /// Checks the worst case of `request` against the run's cap (given what the run spent) and
    /// reserves it against the tenant's; throws ``BudgetExceeded`` when a cap would break.
    func admit(_ request: ChatRequest, models: [String], countedInput: Int? = nil, runID: String, runSpent: Spend) async throws -> SpendAdmission {
        let (worst, priced) = try worstCase(of: request, servedByAnyOf: models, countedInput: countedInput)
        let model = models.joined(separator: ",")
        let needsPrice = (runBudget?.maxCostUSD != nil) || (tenant != nil && tenantDailyBudget?.maxCostUSD != nil)
        if needsPrice && !priced {
            throw BudgetExceeded(scope: .run(runID), limit: runBudget ?? tenantDailyBudget ?? Budget(), spent: runSpent, worstCase: worst, unpricedModel: model)
        }
        if let runBudget, !runBudget.allows(worst, after: runSpent) {
            throw BudgetExceeded(scope: .run(runID), limit: runBudget, spent: runSpent, worstCase: worst)
        }
        var admission = SpendAdmission(worstCase: worst)
        if let tenant, let cap = tenantDailyBudget, cap.isLimited {
            switch try await ledger.reserve(worst, in: .tenant(tenant, on: Date()), cap: cap, ttl: reservationLifetime) {
            case .success(let reservation): admission.reservation = reservation
            case .failure(let refusal): throw refusal
            }
        }
        return admission
    }

    /// Settles an admitted call at what it cost (unless the store already did, with the journal
    /// entry) and fires the alerts it crossed.
    func settle(_ admission: SpendAdmission, actual: Spend, runID: String, runSpentAfter: Spend, alreadySettled: Bool = false) async throws {
        if let reservation = admission.reservation {
            if !alreadySettled { try await ledger.settle(reservation, actual: actual) }
            if let cap = tenantDailyBudget {
                try await alert(scope: reservation.scope, spent: try await ledger.spent(in: reservation.scope), cap: cap, runID: runID)
            }
        }
        if let runBudget { try await alert(scope: .run(runID), spent: runSpentAfter, cap: runBudget, runID: runID) }
    }

    private func alert(scope: SpendScope, spent: Spend, cap: Budget, runID: String) async throws {
        let used = cap.fractionUsed(by: spent)
        for threshold in alertThresholds.sorted() where used >= threshold {
            guard try await ledger.markAlertFired(in: scope, threshold: threshold) else { continue }
            await alerts.send(Alert(
                kind: .budgetThreshold, message: "\(scope) has used \(Int((used * 100).rounded())) % of its budget of \(cap) (\(spent))",
                scope: scope.key, threshold: threshold, spent: spent, limit: cap, runID: runID))
        }
    }
}

/// Token counts of long texts, remembered for the worst-case checks of later calls: a transcript
/// only grows, so each call would otherwise tokenize everything the calls before it did. Texts
/// under 256 UTF-8 bytes are counted each time (cheaper than remembering them); at most
/// `capacity` texts are kept, the oldest forgotten first.
final class TokenCountCache: Sendable {
    static let shortest = 256
    let capacity: Int
    private let state = Mutex(State())

    private struct State {
        /// By counter, then text.
        var counts: [String: [String: Int]] = [:]
        var order: [(counter: String, text: String)] = []
        var oldest = 0
    }

    init(capacity: Int = 2_048) {
        self.capacity = max(1, capacity)
    }

    /// The count of `text` by `counter`: remembered, or counted (outside the lock) and then
    /// remembered.
    func count(_ text: String, countedBy counter: TokenCounter) -> Int {
        guard text.utf8.count >= Self.shortest else { return counter.count(text) }
        if let known = state.withLock({ $0.counts[counter.name]?[text] }) { return known }
        let tokens = counter.count(text)
        state.withLock { state in
            guard state.counts[counter.name]?[text] == nil else { return }
            if state.order.count < capacity {
                state.order.append((counter.name, text))
            } else {
                let evicted = state.order[state.oldest]
                state.counts[evicted.counter]?[evicted.text] = nil
                state.order[state.oldest] = (counter.name, text)
                state.oldest = (state.oldest + 1) % capacity
            }
            state.counts[counter.name, default: [:]][text] = tokens
        }
        return tokens
    }
}
