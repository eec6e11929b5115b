import Foundation
import KeelCore
import KeelRuntime
import KeelTesting
import Testing

/// Money the controls must not lose track of: attempts that failed after the provider billed
/// them, fallback chains, and calls that outlive their reservation's lifetime.
@Suite(.timeLimit(.minutes(5))) struct MeteringTests {
    static func error(_ code: ModelError.Code, billing: ModelError.Billing) -> ModelError {
        var error = ModelError(code, message: "failed on purpose")
        error.billing = billing
        return error
    }

    @Test func attemptsThatFailedAfterBeingBilledAreMetered() async throws {
        let reply = ChatResponse(message: AssistantMessage(text: "fine"), usage: Usage(inputTokens: 10, outputTokens: 5))
        let model = ScriptedModel([
            .error(Self.error(.malformedResponse, billing: .usage(Usage(inputTokens: 100, outputTokens: 40)))),  // a stream cut after its usage
            .error(Self.error(.timeout, billing: .unknown)),  // a reply that never came
            .error(Self.error(.rateLimited, billing: .notBilled)),  // a refusal costs nothing
            .response(reply),
        ])
        var controls = AgentControls()
        controls.retry = RetryPolicy(maxAttempts: 4, initialBackoff: .zero)
        var spend = SpendControls()
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        spend.runBudget = Budget(maxTokens: 1_000_000)
        controls.spend = spend
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 200
        let result = await Agent(model: model, configuration: configuration, controls: controls).run("hi")
        #expect(result.answer == "fine")
        let worst = try spend.worstCase(of: try #require(model.requests.first), model: model.identifier).spend.tokens
        // The reply's usage is what the call cost: itself, the reported usage, and the worst case
        // of the attempt that said nothing.
        #expect(result.usage.totalTokens == 15 + 140 + worst)
    }

    @Test func billedFailuresCountAgainstTheTenantEvenWhenNoReplyFollows() async throws {
        let ledger = InMemorySpendLedger()
        var spend = SpendControls()
        spend.prices = PriceTable(["scripted": ModelPrice(inputPerMillion: 1_000, outputPerMillion: 1_000)])
        spend.tenant = "acme"
        spend.tenantDailyBudget = Budget(maxCostUSD: 100)
        spend.ledger = ledger
        var controls = AgentControls()
        controls.spend = spend
        controls.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .zero)
        let model = ScriptedModel([
            .error(Self.error(.malformedResponse, billing: .usage(Usage(inputTokens: 300, outputTokens: 200)))),
            .error(Self.error(.malformedResponse, billing: .usage(Usage(inputTokens: 300, outputTokens: 200)))),
        ])
        let result = await Agent(model: model, controls: controls).run("hi")
        guard case .modelFailed = result.outcome else {
            Issue.record("expected the model to fail, got \(result.outcome)")
            return
        }
        let spent = try await ledger.spent(in: .tenant("acme", on: Date()))
        #expect(spent.tokens == 1_000)
        #expect(abs(spent.costUSD - 1.0) < 1e-9)
    }

    @Test func aFallbackChainIsPricedByItsDearestModel() async throws {
        // As in the README: a rate-limited first model, then a second.
        let chain = {
            FallbackModel([
                RateLimitedModel(
                    ScriptedModel(name: "cheap", [.error(ModelError(.overloaded, message: "busy"))]),
                    limiter: RateLimiter(limits: RateLimits(requestsPerMinute: 500))),
                ScriptedModel(name: "dear", [.text("served")]),
            ])
        }
        var spend = SpendControls()
        spend.prices = PriceTable(["cheap": ModelPrice(inputPerMillion: 1, outputPerMillion: 1), "dear": ModelPrice(inputPerMillion: 100, outputPerMillion: 1_000)])
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 100  // at most $0.10 of output on the dear model
        // A dollar budget admits the chain: it is priced by its models, not as "fallback:…".
        var controls = AgentControls()
        spend.runBudget = Budget(maxCostUSD: 1)
        controls.spend = spend
        let served = await Agent(model: chain(), configuration: configuration, controls: controls).run("hi")
        #expect(served.answer == "served")
        // Five cents would cover the cheap model's worst case, not the dear one's.
        spend.runBudget = Budget(maxCostUSD: 0.05)
        controls.spend = spend
        let refused = await Agent(model: chain(), configuration: configuration, controls: controls).run("hi")
        guard case .budgetExceeded(let refusal) = refused.outcome else {
            Issue.record("expected a budget outcome, got \(refused.outcome)")
            return
        }
        #expect(refusal.unpricedModel == nil)
        #expect(refusal.worstCase.costUSD > 0.1)
    }

    @Test func aReservationLastsAsLongAsItsCall() async throws {
        let ledger = InMemorySpendLedger()
        var spend = SpendControls()
        spend.tenant = "acme"
        spend.tenantDailyBudget = Budget(maxTokens: 300)
        spend.ledger = ledger
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        // Renewed every 2 s: a loaded machine (the whole suite starting at once) may hold a renewal
        // back for a few seconds without the reservation lapsing.
        spend.reservationLifetime = .seconds(6)
        var controls = AgentControls()
        controls.spend = spend
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 200
        let slow = SlowModel(delay: .seconds(11))
        async let run = Agent(model: slow, configuration: configuration, controls: controls).run("hi")
        // Past the reservation's first lifetime, while the call still runs, the amount is held.
        try await Task.sleep(for: .milliseconds(8_000))
        let scope = SpendScope.tenant("acme", on: Date())
        let second = try await ledger.reserve(Spend(tokens: 200), in: scope, cap: Budget(maxTokens: 300), ttl: .seconds(60))
        if case .success = second { Issue.record("the running call's reservation lapsed while it ran") }
        let result = await run
        #expect(result.answer == "slow answer")
    }

    /// A retry after a billed attempt holds a reservation of its own; it is renewed too, for as
    /// long as the retry runs.
    @Test func aRetrysExtraReservationLastsAsLongAsTheRetry() async throws {
        let ledger = InMemorySpendLedger()
        var spend = SpendControls()
        spend.tenant = "acme"
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        // Renewed every 2 s: a loaded machine (the whole suite starting at once) may hold a renewal
        // back for a few seconds without the reservation lapsing.
        spend.reservationLifetime = .seconds(6)
        spend.ledger = ledger
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 200
        let worst = try spend.worstCase(of: ChatRequest(messages: [.user("hi")], maxOutputTokens: 200), model: "test:billed-then-slow").spend.tokens
        // Room for the call's reservation and the retry's, and a little: not for a third.
        spend.tenantDailyBudget = Budget(maxTokens: 2 * worst + 50)
        var controls = AgentControls()
        controls.spend = spend
        controls.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .zero)
        async let run = Agent(model: BilledThenSlowModel(delay: .seconds(11)), configuration: configuration, controls: controls).run("hi")
        // Past the reservations' first lifetime, while the retry still runs, both are held.
        try await Task.sleep(for: .milliseconds(8_000))
        let scope = SpendScope.tenant("acme", on: Date())
        let third = try await ledger.reserve(Spend(tokens: worst), in: scope, cap: Budget(maxTokens: 2 * worst + 50), ttl: .seconds(60))
        if case .success = third { Issue.record("the retry's reservation lapsed while the retry ran") }
        let result = await run
        #expect(result.answer == "slow answer")
    }
}

/// Fails its first call after the provider billed it, then answers after a delay.
final class BilledThenSlowModel: ChatModel, Sendable {
    let provider = "test"
    let name = "billed-then-slow"
    let delay: Duration
    private let calls = Locked(0)
    init(delay: Duration) { self.delay = delay }
    func respond(to request: ChatRequest) async throws -> ChatResponse {
        if calls.withLock({ count in
            count += 1
            return count
        }) == 1 {
            throw MeteringTests.error(.server, billing: .usage(Usage(inputTokens: 5, outputTokens: 5)))
        }
        try await Task.sleep(for: delay)
        return ChatResponse(message: AssistantMessage(text: "slow answer"), usage: Usage(inputTokens: 5, outputTokens: 5))
    }
}

/// Answers after a delay.
struct SlowModel: ChatModel {
    let provider = "test"
    let name = "slow"
    let delay: Duration
    func respond(to request: ChatRequest) async throws -> ChatResponse {
        try await Task.sleep(for: delay)
        return ChatResponse(message: AssistantMessage(text: "slow answer"), usage: Usage(inputTokens: 5, outputTokens: 5))
    }
}
