import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelTesting
import Synchronization
import Testing

/// Records alerts.
final class AlertRecorder: AlertHook {
    let alerts = Locked<[Alert]>([])
    func send(_ alert: Alert) async { alerts.withLock { $0.append(alert) } }
}

/// Each control of an agent run, with scripted models and a test clock.
@Suite(.timeLimit(.minutes(5))) struct AgentControlsTests {
    @Test func attemptNMayChangeTheRequest() async throws {
        let clock = TestClock()
        let model = ScriptedModel([
            .error(ModelError(.malformedResponse, message: "half a reply")),
            .error(ModelError(.server, message: "oops", statusCode: 500)),
            .text("fine"),
        ])
        var controls = AgentControls()
        controls.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(1)) { attempt, request in
            var request = request
            request.temperature = 0
            request.maxOutputTokens = 100 * attempt
            return request
        }
        controls.random = { 1 }
        var configuration = AgentConfiguration()
        configuration.temperature = 0.9
        let agent = Agent(model: model, configuration: configuration, controls: controls, clock: clock)
        async let run = agent.run("hi")
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(2))
        let result = await run
        #expect(result.answer == "fine")
        #expect(model.requests.map(\.temperature) == [0.9, 0, 0])
        #expect(model.requests.map(\.maxOutputTokens) == [1_500, 200, 300])
    }

    @Test func aCallThatCouldBreakTheRunBudgetIsNotMade() async throws {
        let heavy = ChatResponse(
            message: AssistantMessage(toolCalls: [ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":1}"#)]),
            usage: Usage(inputTokens: 300, outputTokens: 400), finishReason: .toolCalls)
        let model = ScriptedModel(Array(repeating: .response(heavy), count: 10))
        var controls = AgentControls()
        var spend = SpendControls()
        spend.prices = PriceTable(["scripted": ModelPrice(inputPerMillion: 100, outputPerMillion: 1_000)])
        spend.runBudget = Budget(maxCostUSD: 1.0)
        let alerts = AlertRecorder()
        spend.alerts = alerts
        controls.spend = spend
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 400  // at most $0.40 of output a call
        let result = await Agent(model: model, tools: Calculator.tools, configuration: configuration, controls: controls).run("count")
        guard case .budgetExceeded(let refusal) = result.outcome else {
            Issue.record("expected a budget outcome, got \(result.outcome)")
            return
        }
        #expect(refusal.scope == .run(refusal.scope.key.replacingOccurrences(of: "run:", with: "")))
        let spent = spend.spend(of: result.usage, model: "scripted:scripted")
        #expect(spent.costUSD <= 1.0)
        #expect(spent.costUSD + refusal.worstCase.costUSD > 1.0)
        #expect(model.requests.count == result.steps.count)  // the refused call was never sent
        #expect(result.transcript.unansweredToolCalls.isEmpty)
        // 80 % fired once; 100 % never, since the cap was not reached.
        #expect(alerts.alerts.value.map(\.threshold) == [0.8])
    }

    @Test func aTenantsDailyBudgetHoldsAcrossParallelRuns() async throws {
        let ledger = InMemorySpendLedger()
        var spend = SpendControls()
        spend.prices = PriceTable(["scripted": ModelPrice(inputPerMillion: 1_000, outputPerMillion: 1_000)])
        spend.tenant = "acme"
        spend.tenantDailyBudget = Budget(maxCostUSD: 2.0)
        spend.ledger = ledger
        spend.countTokens = { ($0.utf8.count + 3) / 4 }
        let alerts = AlertRecorder()
        spend.alerts = alerts
        var parallelControls = AgentControls()
        parallelControls.spend = spend
        var smallReplies = AgentConfiguration()
        smallReplies.maxOutputTokens = 100
        let configuration = smallReplies
        let controls = parallelControls
        let results = await withTaskGroup(of: AgentRunResult.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let model = ScriptedModel(Array(repeating: .toolCall("add", arguments: ["a": 1, "b": 1]), count: 20))
                    return await Agent(model: model, tools: Calculator.tools, configuration: configuration, controls: controls).run("spend")
                }
            }
            var all: [AgentRunResult] = []
            for await result in group { all.append(result) }
            return all
        }
        let total = results.reduce(0.0) { $0 + spend.spend(of: $1.usage, model: "scripted:scripted").costUSD }
        #expect(total <= 2.0)
        #expect(total > 1.5)  // the cap was used, not wasted
        #expect(results.allSatisfy { if case .budgetExceeded = $0.outcome { true } else { false } })
        #expect(abs(try await ledger.spent(in: .tenant("acme", on: Date())).costUSD - total) < 1e-9)
        #expect(alerts.alerts.value.filter { $0.scope?.hasPrefix("tenant:acme") == true }.map(\.threshold) == [0.8])
    }

    @Test func anUnpricedModelCannotSpendADollarBudget() async throws {
        var controls = AgentControls()
        var spend = SpendControls()
        spend.runBudget = Budget(maxCostUSD: 5)
        controls.spend = spend
        let result = await Agent(model: Renamed(inner: ScriptedModel([.text("free?")]), provider: "acme", name: "mystery"), controls: controls).run("hi")
        guard case .budgetExceeded(let refusal) = result.outcome else {
            Issue.record("expected a budget outcome")
            return
        }
        #expect(refusal.unpricedModel == "acme:mystery")
    }

    /// The deadline is measured on the agent's clock: the research takes two minutes of it, and
    /// the run had one.
    @Test func atTheDeadlineTheModelAnswersWithWhatItHas() async throws {
        let clock = TestClock()
        let slowSearch = AnyTool(definition: ToolDefinition(name: "search", description: "Slow research.", parameters: .object(properties: [], required: []))) { _, _ in
            clock.advance(by: .seconds(120))
            return "one finding"
        }
        let model = ScriptedModel([.toolCall("search", arguments: [:]), .text("Draft: one finding, not checked further.")])
        var controls = AgentControls()
        controls.deadline = Date().addingTimeInterval(60)
        let result = await Agent(model: model, tools: [slowSearch], controls: controls, clock: clock).run("research")
        #expect(result.outcome == .deadlineReached(answer: "Draft: one finding, not checked further."))
        #expect(result.answer == "Draft: one finding, not checked further.")
        let last = try #require(model.requests.last)
        #expect(last.tools.isEmpty)
        #expect(last.messages.last == .user(AgentLoop.deadlineNote))
    }

    @Test func atTheDeadlineTheRunCanStopAtOnce() async throws {
        var controls = AgentControls()
        controls.deadline = Date().addingTimeInterval(-1)
        controls.finalAnswerAtDeadline = false
        let model = ScriptedModel([.text("never asked")])
        let result = await Agent(model: model, controls: controls).run("hi")
        #expect(result.outcome == .deadlineReached(answer: nil))
        #expect(model.requests.isEmpty)
    }

    @Test func aModelCallThatOutlivesItsTimeoutIsRetried() async throws {
        let clock = TestClock()
        let calls = Locked(0)
        let hanging = HangingOnceModel(calls: calls, clock: clock)
        var controls = AgentControls()
        controls.modelTimeout = .seconds(30)
        controls.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .zero)
        let agent = Agent(model: hanging, controls: controls, clock: clock)
        async let run = agent.run("hi")
        await clock.waitForSleepers(2)  // the hanging call and its timeout
        clock.advance(by: .seconds(30))
        let result = await run
        #expect(result.answer == "second try")
        #expect(calls.value == 2)
    }

    @Test func cachedToolResultsAreReusedAndVisible() async throws {
        let runs = Locked(0)
        let lookup = AnyTool(definition: ToolDefinition(name: "lookup", description: "", parameters: .object(properties: [("q", .string())], required: ["q"]))) { arguments, _ in
            runs.withLock { $0 += 1 }
            return "result for \(arguments["q"]?.stringValue ?? "")"
        }
        let script: [ScriptedModel.Reply] = [
            .toolCall("lookup", arguments: ["q": "swift"]),
            .toolCall("lookup", rawArguments: #"{ "q" : "swift" }"#),  // the same call, written differently
            .toolCall("lookup", arguments: ["q": "keel"]),
            .text("done"),
        ]
        var controls = AgentControls()
        controls.toolCaching = .perRun
        let result = await Agent(model: ScriptedModel(script), tools: [lookup], controls: controls).run("look")
        #expect(runs.value == 2)
        #expect(result.steps.map { $0.toolResults.map(\.isCacheHit) } == [[false], [true], [false], []])
        #expect(result.steps[1].toolResults[0].content == "result for swift")

        var shared = AgentControls()
        let cache = InMemoryToolResultCache()
        shared.toolCachingByName = ["lookup": .shared(timeToLive: .seconds(60))]
        shared.toolCache = cache
        for _ in 0..<2 {
            _ = await Agent(model: ScriptedModel([.toolCall("lookup", arguments: ["q": "shared"]), .text("ok")]), tools: [lookup], controls: shared).run("look")
        }
        #expect(runs.value == 3)  // the second run was answered from the shared cache
    }
}

/// A model under another provider and name.
struct Renamed: ChatModel {
    let inner: any ChatModel
    let provider: String
    let name: String
    func respond(to request: ChatRequest) async throws -> ChatResponse { try await inner.respond(to: request) }
}

/// Hangs on its first call (until cancelled), answers on the second.
struct HangingOnceModel: ChatModel {
    let provider = "test"
    let name = "hanging"
    let calls: Locked<Int>
    let clock: TestClock
    func respond(to request: ChatRequest) async throws -> ChatResponse {
        let call = calls.withLock { $0 += 1; return $0 }
        if call == 1 { try await clock.sleep(for: .seconds(3_600)) }
        return ChatResponse(message: AssistantMessage(text: "second try"))
    }
}
