import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

struct PricedAgent: Workflow {
    let name = "agent"
    let model: any ChatModel
    let spend: SpendControls?
    var retry = RetryPolicy.none
    var maxOutputTokens = 100
    func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
        var controls = AgentControls()
        controls.spend = spend
        controls.retry = retry
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = maxOutputTokens
        return try await Agent(model: model, tools: Calculator.tools, configuration: configuration, controls: controls).run(input, in: context)
    }
}

final class RecordingHook: AlertHook {
    let alerts = Locked<[Alert]>([])
    func send(_ alert: Alert) async { alerts.withLock { $0.append(alert) } }
}

@Suite(.timeLimit(.minutes(5))) struct ControlsOnSQLiteTests {
    let prices = PriceTable(["scripted": ModelPrice(inputPerMillion: 1_000, cachedInputPerMillion: 500, outputPerMillion: 2_000)])

    @Test func costsComeFromTheJournalByRunModelTenantAndDay() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        var spend = SpendControls()
        spend.prices = prices
        for (id, tenant) in [("a", "acme"), ("b", "acme"), ("c", "globex")] {
            let model = ScriptedModel([
                .response(ChatResponse(message: AssistantMessage(toolCalls: [ToolCall(id: "c1", name: "add", arguments: #"{"a":1,"b":2}"#)]), usage: Usage(inputTokens: 100, cachedInputTokens: 40, outputTokens: 10), finishReason: .toolCalls)),
                .response(ChatResponse(message: AssistantMessage(text: "3"), usage: Usage(inputTokens: 120, outputTokens: 5))),
            ])
            let workflow = PricedAgent(model: model, spend: spend)
            let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).start(workflow, input: "1+2", runID: id, tenant: tenant)
            #expect(record.status == .completed)
        }
        let firstCall: Double = (60.0 * 1_000 + 40.0 * 500 + 10.0 * 2_000) / 1e6
        let secondCall: Double = (120.0 * 1_000 + 5.0 * 2_000) / 1e6
        let perStepCost = firstCall + secondCall
        let byRun = try await store.costs(CostQuery(groupBy: .run))
        #expect(byRun.map { $0.key }.sorted() == ["a", "b", "c"])
        #expect(byRun.allSatisfy { abs($0.costUSD - perStepCost) < 1e-9 && $0.steps == 2 && $0.usage.inputTokens == 220 })
        let byTenant = try await store.costs(CostQuery(groupBy: .tenant))
        #expect(byTenant.map { $0.key } == ["acme", "globex"])
        #expect(abs((byTenant.first?.costUSD ?? 0) - 2 * perStepCost) < 1e-9)
        let byModel = try await store.costs(CostQuery(groupBy: .model))
        #expect(byModel.map { $0.key } == ["scripted:scripted"])
        #expect(byModel.first?.usage.cachedInputTokens == 120)
        let byDay = try await store.costs(CostQuery(groupBy: .day))
        #expect(byDay.map { $0.key } == [SpendScope.dayString(Date())])
        #expect(try await store.costs(CostQuery(groupBy: .run, since: Date().addingTimeInterval(3_600))).isEmpty)
    }

    /// A model step whose every attempt failed after the provider billed it fails the run; what
    /// was billed is journaled beside the step, so the costs show it and the run's budget counts
    /// it when the run resumes.
    @Test func billedAttemptsOfAFailedStepAreJournaledAndCountAfterAResume() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        func billed() -> ModelError {
            var error = ModelError(.server, message: "cut off after the usage")
            error.billing = .usage(Usage(inputTokens: 100, outputTokens: 40))
            return error
        }
        var spend = SpendControls()
        spend.prices = prices
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        let failingModel = ScriptedModel([.error(billed()), .error(billed())])
        let failing = PricedAgent(model: failingModel, spend: spend, retry: RetryPolicy(maxAttempts: 2, initialBackoff: .zero))
        let failed = try await DurableRuntime(store: store, workflows: [AnyWorkflow(failing)]).start(failing, input: "hi", runID: "billed")
        #expect(failed.status == .failed)
        let journal = try await store.journal(runID: "billed")
        let entry = try #require(journal.first { $0.scope == "billed-0" })
        #expect(entry.name == "billed-model-1" && entry.status == .completed)
        #expect(entry.metering?.usage == Usage(inputTokens: 200, outputTokens: 80))
        let cost = (200.0 * 1_000 + 80.0 * 2_000) / 1e6
        #expect(abs((entry.metering?.costUSD ?? 0) - cost) < 1e-9)
        let costs = try await store.costs(CostQuery(groupBy: .run, runID: "billed"))
        #expect(costs.first?.usage.totalTokens == 280)

        // Resumed under a run budget that the call's worst case fits, but not after the billed 280
        // tokens: refused before the call.
        let worst = try spend.worstCase(of: try #require(failingModel.requests.first), model: failingModel.identifier).spend.tokens
        var tight = spend
        tight.runBudget = Budget(maxTokens: worst + 200)
        let retried = PricedAgent(model: ScriptedModel([.text("late")]), spend: tight)
        _ = try await store.reopen(runID: "billed")
        let resumed = try await DurableRuntime(store: store, workflows: [AnyWorkflow(retried)]).run("billed")
        let result = try #require(try resumed.output?.decode(as: AgentRunResult.self))
        guard case .budgetExceeded(let refusal) = result.outcome else {
            Issue.record("expected the budget to count the billed attempts, got \(result.outcome)")
            return
        }
        #expect(refusal.spent.tokens == 280)
    }

    @Test func aFailedRunIsADeadLetterUntilItIsRetried() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let hook = RecordingHook()
        let failing = PricedAgent(model: ScriptedModel([
            .toolCall("add", arguments: ["a": 1, "b": 2]),
            .error(ModelError(.overloaded, message: "The engine is overloaded.", statusCode: 503)),
        ]), spend: nil)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(failing)], alerts: hook)
        let failed = try await runtime.start(failing, input: "1+2", runID: "dl")
        #expect(failed.status == .failed)
        let letters = try await store.deadLetters(includeResolved: false, limit: 10)
        #expect(letters.count == 1)
        #expect(letters.first?.failure.code == "overloaded")
        #expect(letters.first?.failure.sequence == 2)
        #expect(letters.first?.journalLength == 2)
        #expect(hook.alerts.value.map(\.kind) == [.deadLetter])
        #expect(hook.alerts.value.first?.runID == "dl")

        _ = try await store.reopen(runID: "dl")
        #expect(try await store.deadLetters(includeResolved: false, limit: 10).isEmpty)
        #expect(try await store.deadLetters(includeResolved: true, limit: 10).first?.resolvedAt != nil)
        let healthy = PricedAgent(model: ScriptedModel([.text("3")]), spend: nil)
        let done = try await DurableRuntime(store: store, workflows: [AnyWorkflow(healthy)]).run("dl")
        #expect(done.status == .completed)
    }

    @Test func theStoreHoldsTenantBudgetsAcrossProcessesAndSettlesWithTheJournal() async throws {
        let path = try temporaryStorePath()
        let store = try SQLiteRunStore(path: path)
        var spend = SpendControls()
        spend.prices = prices
        spend.tenant = "acme"
        spend.tenantDailyBudget = Budget(maxCostUSD: 1.3)
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        spend.ledger = store
        let hook = RecordingHook()
        spend.alerts = hook
        // Each call costs $0.35 and could cost about $0.60 at worst: three fit in $1.30.
        let call = ChatResponse(
            message: AssistantMessage(toolCalls: [ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":2}"#)]),
            usage: Usage(inputTokens: 300, outputTokens: 25), finishReason: .toolCalls)
        for id in ["p1", "p2"] {
            // A second handle on the file stands in for a second process.
            let handle = id == "p1" ? store : try SQLiteRunStore(path: path)
            var runSpend = spend
            runSpend.ledger = handle
            let workflow = PricedAgent(model: ScriptedModel(Array(repeating: .response(call), count: 10)), spend: runSpend)
            var configuration = DurableRuntime.Configuration()
            configuration.leaseDuration = .seconds(30)
            _ = try await DurableRuntime(store: handle, workflows: [AnyWorkflow(workflow)], configuration: configuration).start(workflow, input: "spend", runID: id, tenant: "acme")
        }
        let settled = try await store.spent(in: .tenant("acme", on: Date()))
        let journaled = try await store.costs(CostQuery(groupBy: .tenant, tenant: "acme")).first?.costUSD ?? 0
        #expect(settled.costUSD <= 1.3)
        #expect(settled.costUSD > 1.0)
        #expect(abs(settled.costUSD - journaled) < 1e-9)  // settled in the same transactions as the steps
        for id in ["p1", "p2"] {
            let result = try #require(try await store.run(id: id)?.output?.decode(as: AgentRunResult.self))
            if case .budgetExceeded = result.outcome {} else { Issue.record("run \(id) should have stopped at the budget, got \(result.outcome)") }
        }
        #expect(hook.alerts.value.filter { $0.kind == .budgetThreshold }.map(\.threshold) == [0.8])
    }
}
