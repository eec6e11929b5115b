import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// 1,000 generated adversarial scenarios — models that always call tools, replies as long as
/// allowed, long inputs, tools that return floods of text, transient failures and retries,
/// failures the provider bills (with their usage, or without saying how much), parallel runs
/// sharing a tenant's budget — and spending never passes a cap: neither what the provider billed
/// nor what Keel recorded.
@Suite(.timeLimit(.minutes(10)), .heavy) struct BudgetPropertyTests {
    /// Always calls tools, bills the longest reply allowed and a little more input than it was
    /// sent (up to 10 %), and fails now and then.
    struct GreedyModel: ChatModel {
        let provider = "greedy"
        let name = "model"
        let seed: UInt64
        let failureRate: Double
        let calls = Locked(0)
        /// What the provider billed, failures included.
        let billed = Locked(Usage.zero)

        func respond(to request: ChatRequest) async throws -> ChatResponse {
            let call = calls.withLock { $0 += 1; return $0 }
            var dice = SeededRandomGenerator(seed: seed &+ UInt64(call))
            if Double.random(in: 0..<1, using: &dice) < failureRate {
                // A refusal costs nothing; a reply cut short or timed out is billed what the
                // provider processed (reported, or not).
                let processed = Usage(
                    inputTokens: Int(Double(request.estimatedInputTokens) * Double.random(in: 1.0...1.1, using: &dice)),
                    outputTokens: Int.random(in: 0...request.maxOutputTokens, using: &dice))
                var error: ModelError
                switch Int.random(in: 0..<3, using: &dice) {
                case 0:
                    error = ModelError(.overloaded, message: "busy")
                case 1:
                    error = ModelError(.malformedResponse, message: "the stream was cut")
                    error.billing = .usage(processed)
                default:
                    error = ModelError(.timeout, message: "no complete answer in time")
                    error.billing = .unknown
                }
                if error.billing != .notBilled { billed.withLock { $0 += processed } }
                throw error
            }
            let count = Int.random(in: 1...3, using: &dice)
            let calls = (0..<count).map { index in
                Bool.random(using: &dice)
                    ? ToolCall(id: "c\(call)-\(index)", name: "flood", arguments: #"{"size":\#(Int.random(in: 0...4_000, using: &dice))}"#)
                    : ToolCall(id: "c\(call)-\(index)", name: "add", arguments: #"{"a":\#(call),"b":\#(index)}"#)
            }
            let input = Int(Double(request.estimatedInputTokens) * Double.random(in: 1.0...1.1, using: &dice))
            let usage = Usage(inputTokens: input, cachedInputTokens: Int.random(in: 0...input, using: &dice), outputTokens: request.maxOutputTokens)
            billed.withLock { $0 += usage }
            return ChatResponse(message: AssistantMessage(toolCalls: calls), usage: usage, finishReason: .toolCalls)
        }
    }

    static let flood = AnyTool(definition: ToolDefinition(
        name: "flood", description: "Returns a lot of text.",
        parameters: .object(properties: [("size", .integer(minimum: 0, maximum: 10_000))], required: ["size"]))
    ) { arguments, _ in
        String(repeating: "data ", count: (arguments["size"]?.intValue ?? 0) / 5)
    }

    @Test func spendNeverExceedsACap() async throws {
        var dice = SeededRandomGenerator(seed: 20_261_122)
        var refusals = 0
        var spentNearCap = 0
        for scenario in 0..<1_000 {
            let prices = PriceTable(["greedy:model": ModelPrice(
                inputPerMillion: Double.random(in: 0.1...20, using: &dice), cachedInputPerMillion: Double.random(in: 0.01...2, using: &dice),
                outputPerMillion: Double.random(in: 0.5...80, using: &dice))])
            let tenantCap = Budget(
                maxTokens: Bool.random(using: &dice) ? Int.random(in: 500...60_000, using: &dice) : nil,
                maxCostUSD: Double.random(in: 0.001...0.5, using: &dice))
            let ledger = InMemorySpendLedger()
            let runCount = Int.random(in: 1...5, using: &dice)
            struct Plan: Sendable {
                var runCap: Budget?
                var maxSteps: Int
                var maxOutputTokens: Int
                var prompt: String
                var seed: UInt64
                var failureRate: Double
            }
            let plans = (0..<runCount).map { _ in
                Plan(
                    runCap: Bool.random(using: &dice) ? Budget(maxTokens: Int.random(in: 300...30_000, using: &dice), maxCostUSD: Bool.random(using: &dice) ? Double.random(in: 0.0005...0.2, using: &dice) : nil) : nil,
                    maxSteps: Int.random(in: 2...12, using: &dice), maxOutputTokens: Int.random(in: 50...2_000, using: &dice),
                    prompt: String(repeating: "word ", count: Int.random(in: 0...600, using: &dice)), seed: dice.next(),
                    failureRate: Double.random(in: 0...0.3, using: &dice))
            }
            let results = await withTaskGroup(of: (Plan, AgentRunResult, Usage).self) { group in
                for plan in plans {
                    group.addTask {
                        var spend = SpendControls()
                        spend.prices = prices
                        spend.runBudget = plan.runCap
                        spend.tenant = "tenant-\(scenario)"
                        spend.tenantDailyBudget = tenantCap
                        spend.ledger = ledger
                        spend.countTokens = { ($0.utf8.count + 3) / 4 }
                        spend.alerts = AlertHooks([])
                        var controls = AgentControls()
                        controls.spend = spend
                        controls.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .zero)
                        var configuration = AgentConfiguration()
                        configuration.maxSteps = plan.maxSteps
                        configuration.maxOutputTokens = plan.maxOutputTokens
                        configuration.noProgressThreshold = 1_000
                        let model = GreedyModel(seed: plan.seed, failureRate: plan.failureRate)
                        let agent = Agent(model: model, tools: Calculator.tools + [Self.flood], configuration: configuration, controls: controls)
                        let result = await agent.run(plan.prompt)
                        return (plan, result, model.billed.value)
                    }
                }
                var all: [(Plan, AgentRunResult, Usage)] = []
                for await result in group { all.append(result) }
                return all
            }
            var tenantSpend = Spend.zero
            for (plan, result, billed) in results {
                // What the provider billed the run, failed attempts included.
                let runSpend = Spend(tokens: billed.totalTokens, costUSD: prices.cost(of: billed, model: "greedy:model") ?? 0)
                tenantSpend += runSpend
                if let cap = plan.runCap {
                    #expect(cap.allows(.zero, after: runSpend), "scenario \(scenario): a run was billed \(runSpend) against its cap of \(cap)")
                }
                if case .budgetExceeded = result.outcome { refusals += 1 }
            }
            #expect(tenantCap.allows(.zero, after: tenantSpend), "scenario \(scenario): the tenant was billed \(tenantSpend) against a cap of \(tenantCap)")
            // Keel recorded at least what was billed (a failure that did not say how much counts
            // at its worst case), and still within the cap.
            let recorded = try await ledger.spent(in: .tenant("tenant-\(scenario)", on: Date()))
            #expect(recorded.tokens >= tenantSpend.tokens, "scenario \(scenario): recorded \(recorded), billed \(tenantSpend)")
            #expect(recorded.costUSD >= tenantSpend.costUSD - 1e-9, "scenario \(scenario): recorded \(recorded), billed \(tenantSpend)")
            #expect(tenantCap.allows(.zero, after: recorded), "scenario \(scenario): Keel recorded \(recorded) against a cap of \(tenantCap)")
            if tenantCap.fractionUsed(by: tenantSpend) > 0.5 { spentNearCap += 1 }
        }
        // The scenarios did push against their caps; a generator that never reaches a cap proves nothing.
        #expect(refusals > 1_000)
        #expect(spentNearCap > 300)
    }
}
