import Foundation
import KeelCore
import KeelRuntime
import KeelTesting
import Testing

@Suite(.timeLimit(.minutes(5))) struct BudgetTests {
    @Test func aBudgetAllowsUpToItsCaps() {
        let budget = Budget(maxTokens: 1_000, maxCostUSD: 0.10)
        #expect(budget.allows(Spend(tokens: 400, costUSD: 0.05), after: Spend(tokens: 600, costUSD: 0.05)))
        #expect(!budget.allows(Spend(tokens: 401, costUSD: 0), after: Spend(tokens: 600, costUSD: 0)))
        #expect(!budget.allows(Spend(tokens: 1, costUSD: 0.051), after: Spend(tokens: 0, costUSD: 0.05)))
        #expect(budget.fractionUsed(by: Spend(tokens: 800, costUSD: 0.02)) == 0.8)
    }

    @Test func tenantScopesAreCalendarDaysInUTC() {
        let date = Date(timeIntervalSince1970: 1_763_856_000 + 86_399)  // 2025-11-23 23:59:59 UTC
        #expect(SpendScope.tenant("acme", on: date).key == "tenant:acme:2025-11-23")
        #expect(SpendScope.tenant("acme", on: date.addingTimeInterval(1)).key == "tenant:acme:2025-11-24")
    }

    @Test func theWorstCaseCoversTheCountedInputAndTheMaximumOutput() throws {
        var controls = SpendControls()
        controls.prices = PriceTable(["m": ModelPrice(inputPerMillion: 2, outputPerMillion: 10)])
        let request = ChatRequest(messages: [.system("Be brief."), .user(String(repeating: "tokens ", count: 1_000))], maxOutputTokens: 500)
        let (worst, priced) = try controls.worstCase(of: request, model: "test:m")
        let tokenizer = try BPETokenizer.cl100kBase()
        let counted = tokenizer.count("Be brief.") + tokenizer.count(String(repeating: "tokens ", count: 1_000))
        #expect(priced)
        #expect(worst.tokens >= counted + 500)
        #expect(worst.tokens <= Int(Double(counted) * 1.1) + 500 + 40)
        #expect(abs(worst.costUSD - (Double(worst.tokens - 500) * 2 + 500 * 10) / 1_000_000) < 1e-12)
        #expect(try controls.worstCase(of: request, model: "unknown").priced == false)
    }

    /// A transcript only grows: before each call, only its new messages are tokenized.
    @Test func theWorstCaseCountsOnlyWhatIsNewInTheTranscript() throws {
        let counted = Locked<[String]>([])
        var controls = SpendControls()
        controls.countTokens = { text in
            counted.withLock { $0.append(text) }
            return text.utf8.count / 4
        }
        let long = { (number: Int) in String(repeating: "word\(number) ", count: 100) }
        var request = ChatRequest(messages: [.system(long(1)), .user(long(2))], maxOutputTokens: 100)
        let first = try controls.worstCase(of: request, model: "m").spend.tokens
        #expect(counted.value.filter { $0.utf8.count >= 256 }.count == 2)
        counted.withLock { $0 = [] }
        request.messages.append(.assistant(AssistantMessage(text: long(3))))
        request.messages.append(.user(long(4)))
        let copy = controls  // copies share what was counted
        let second = try copy.worstCase(of: request, model: "m").spend.tokens
        #expect(counted.value.filter { $0.utf8.count >= 256 } == [long(3), long(4)])
        #expect(second > first)
        // What is remembered is what would have been counted.
        var fresh = SpendControls()
        fresh.countTokens = { $0.utf8.count / 4 }
        #expect(try fresh.worstCase(of: request, model: "m").spend.tokens == second)
    }

    @Test func pricesLoadFromJSONAndYAML() throws {
        let json = try PriceTable(json: #"{"house-model": {"input": 1.5, "cached_input": 0.5, "output": 6}}"#)
        #expect(json.price(for: "openai:house-model-2026") == ModelPrice(inputPerMillion: 1.5, cachedInputPerMillion: 0.5, outputPerMillion: 6))
        let yaml = try PriceTable(yaml: """
            # our contract
            gpt-4o:
              input: 2.00   # discounted
              output: 8
            "local-llama":
              input: 0
              output: 0
            """)
        #expect(yaml.price(for: "gpt-4o") == ModelPrice(inputPerMillion: 2, outputPerMillion: 8))
        #expect(yaml.price(for: "local-llama")?.outputPerMillion == 0)
        let merged = PriceTable.defaults.merging(yaml)
        #expect(merged.price(for: "gpt-4o")?.inputPerMillion == 2)
        #expect(merged.price(for: "gpt-4o-mini")?.inputPerMillion == 0.15)
    }

    @Test(arguments: [
        (#"{"m": {"input": 1}}"#, "'m' needs both an input and an output price"),
        (#"{"m": {"input": -1, "output": 1}}"#, "the input price of 'm' must be a non-negative number"),
        (#"{"m": {"input": 1, "output": 1, "surge": 2}}"#, "'m' has an unknown price 'surge': use input, cached_input, cache_write and output"),
        (#"[1]"#, "the price file must map model names to prices"),
        (#"{"m": "#, "the price file is not JSON (invalid JSON at byte 6: unexpected end of input)"),
    ])
    func aBadPriceFileIsAClearError(text: String, message: String) {
        #expect(throws: PriceTable.LoadError.self) { try PriceTable(json: text) }
        do { _ = try PriceTable(json: text) } catch { #expect(String(describing: error) == message) }
    }

    @Test func aYAMLPriceFileWithoutStructureIsAClearError() {
        #expect(throws: PriceTable.LoadError.self) { try PriceTable(yaml: "  input: 2\n") }
        #expect(throws: PriceTable.LoadError.self) { try PriceTable(yaml: "m:\n  input: cheap\n  output: 1\n") }
    }

    @Test func costsCountCachedInputAtItsRate() {
        let price = ModelPrice(inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10)
        let cost = price.cost(of: Usage(inputTokens: 1_000_000, cachedInputTokens: 400_000, outputTokens: 100_000))
        #expect(abs(cost - (0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10)) < 1e-9)
    }

    @Test func inMemoryReservationsHoldParallelCallsToTheCap() async throws {
        let ledger = InMemorySpendLedger()
        let scope = SpendScope.tenant("acme", on: Date())
        let cap = Budget(maxTokens: 1_000)
        var reservations: [SpendReservation] = []
        for _ in 0..<3 {
            if case .success(let reservation) = try await ledger.reserve(Spend(tokens: 300), in: scope, cap: cap, ttl: .seconds(60)) {
                reservations.append(reservation)
            }
        }
        #expect(reservations.count == 3)
        guard case .failure(let refusal) = try await ledger.reserve(Spend(tokens: 300), in: scope, cap: cap, ttl: .seconds(60)) else {
            Issue.record("a fourth reservation must be refused")
            return
        }
        #expect(refusal.spent.tokens == 900)
        try await ledger.settle(reservations[0], actual: Spend(tokens: 100))
        #expect(try await ledger.spent(in: scope) == Spend(tokens: 100))
        if case .failure = try await ledger.reserve(Spend(tokens: 300), in: scope, cap: cap, ttl: .seconds(60)) {
            Issue.record("settling below the reservation frees room")
        }
        #expect(try await ledger.markAlertFired(in: scope, threshold: 0.8))
        #expect(try await !ledger.markAlertFired(in: scope, threshold: 0.8))
    }
}
