import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Synchronization
import Testing

/// Agents used as tools, handoffs and guardrails (issue 14's team primitives).
@Suite(.timeLimit(.minutes(2)))
struct TeamTests {
    /// A tool that changes the world and counts its calls.
    struct Pay: Tool {
        @Schema struct Arguments: Decodable, Sendable { var amount: Int }
        let name = "pay"
        let description = "Pays an amount."
        let isSideEffecting = true
        let calls: Counter
        func call(_ arguments: Arguments, context: ToolContext) async throws -> String {
            calls.add()
            return "paid \(arguments.amount)"
        }
    }

    struct Lookup: Tool {
        @Schema struct Arguments: Decodable, Sendable { var order: Int }
        let name = "lookup"
        let description = "Looks an order up."
        func call(_ arguments: Arguments, context: ToolContext) async throws -> String { "order \(arguments.order) shipped on Monday" }
    }

    final class Counter: Sendable {
        private let value = Mutex(0)
        func add() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    @Test func aHandoffChainPassesTheFilteredConversationFromAgentToAgent() async throws {
        let cModel = ScriptedModel(name: "c", [.text("Your refund of 40 is on its way.")])
        let c = Agent(name: "refunds", model: cModel, instructions: "You issue refunds.")
        var b = Agent(name: "billing", model: ScriptedModel(name: "b", [
            .toolCalls([ToolCall(id: "b1", name: "transfer_to_refunds", arguments: #"{"reason":"a refund"}"#)], text: "This is a refund."),
        ]), instructions: "You handle billing.")
        b.handoffs = [Handoff(to: c, inputFilter: .removeToolCalls)]
        let aModel = ScriptedModel(name: "a", [
            .toolCall("lookup", arguments: ["order": 7], id: "a1"),
            .toolCalls([ToolCall(id: "a2", name: "transfer_to_billing", arguments: "{}"), ToolCall(id: "a3", name: "lookup", arguments: #"{"order":8}"#)], text: nil),
        ])
        var a = Agent(name: "triage", model: aModel, instructions: "You route customers.", tools: [Lookup()])
        a.handoffs = [Handoff(to: b)]

        let path = try TemporaryFolder.make("keel-team").appendingPathComponent("keel.db").path
        let store = try SQLiteRunStore(path: path)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(AgentFlow(agent: a))])
        let record = try await runtime.start(AgentFlow(agent: a), input: "I was charged twice for order 7.", runID: "handoff")
        let result = try #require(try record.output?.decode(as: AgentRunResult.self))

        #expect(result.outcome == .completed(answer: "Your refund of 40 is on its way."))
        #expect(result.agent == "refunds")
        #expect(result.handoffs == ["billing", "refunds"])
        // A's second reply: the handoff is taken, the other call of the same reply answered as not run.
        #expect(result.steps.count == 4)
        // B saw its own instructions, A's lookup as text (not a call of a tool it lacks), no handoff call, and a user turn last.
        let bModel = try #require(b.model as? ScriptedModel)
        let bRequest = try #require(bModel.requests.first)
        #expect(bRequest.messages.first == .system("You handle billing."))
        #expect(bRequest.messages.allSatisfy { if case .tool = $0 { false } else { true } })
        #expect(bRequest.messages.contains { $0.text?.contains("[lookup {\"order\":7} → order 7 shipped on Monday]") == true })
        #expect(!bRequest.messages.contains { $0.text?.contains("transfer_to") == true })
        #expect(bRequest.tools.map(\.name) == ["transfer_to_refunds"])
        if case .user? = bRequest.messages.last {} else { Issue.record("B's request must end with a user turn") }
        // C (filter: no tool calls) saw the user, B's words and no tool call at all.
        let cRequest = try #require(cModel.requests.first)
        #expect(cRequest.messages.first == .system("You issue refunds."))
        #expect(cRequest.messages.contains(.user("I was charged twice for order 7.")))
        #expect(cRequest.messages.contains { if case .assistant(let reply) = $0 { reply.text == "This is a refund." && reply.toolCalls.isEmpty } else { false } })
        #expect(cRequest.messages.allSatisfy { message in
            switch message {
            case .tool: false
            case .assistant(let reply): reply.toolCalls.isEmpty
            default: true
            }
        })
        // Durable: each agent's steps are in its own scope, and the usage is attributed to it.
        let journal = try await store.journal(runID: "handoff")
        #expect(Set(journal.map(\.scope)).isSuperset(of: ["", "handoff-1@billing", "handoff-2@refunds"]))
        let shares = UsageByAgent.shares(of: journal, rootAgent: "triage")
        #expect(shares.keys.sorted() == ["billing", "refunds", "triage"])
        #expect(shares.values.reduce(0) { $0 + $1.usage.totalTokens } == UsageByAgent.total(of: journal).usage.totalTokens)
        #expect(shares["triage"]?.modelCalls == 2)
    }

    @Test func aModelThatPromisesAHandoffWithoutCallingItIsAskedOnceThenStopped() async throws {
        let target = Agent(name: "billing", model: ScriptedModel(name: "t", [.text("Billing here: done.")]))
        var kept = Agent(name: "triage", model: ScriptedModel(name: "k", [
            .text("I'll transfer you to billing now."),
            .toolCall("transfer_to_billing", arguments: [:]),
        ]))
        kept.handoffs = [Handoff(to: target)]
        let result = await kept.run("Charged twice.")
        #expect(result.outcome == .completed(answer: "Billing here: done."))
        #expect(result.agent == "billing")

        var stubborn = Agent(name: "triage", model: ScriptedModel(name: "s", [.text("Let me transfer you."), .text("I will transfer you shortly.")]))
        stubborn.handoffs = [Handoff(to: target)]
        let stopped = await stubborn.run("Charged twice.")
        guard case .guardrailTripped(let trip) = stopped.outcome else { Issue.record("expected a tripped guardrail, got \(stopped.outcome)"); return }
        #expect(trip.guardrail == "handoff")
        #expect(trip.stage == .output)
        #expect(stopped.transcript.messages.contains { $0.text?.contains("called no handoff tool") == true })
    }

    @Test func aParallelInputGuardrailTripsBeforeASideEffectTheModelAlreadyAskedFor() async throws {
        let model = ScriptedModel(name: "payer", [.toolCall("pay", arguments: ["amount": 500], id: "p1"), .text("Paid.")])
        let calls = Counter()
        var agent = Agent(name: "payer", model: model, tools: [Pay(calls: calls)])
        agent.inputGuardrails = [
            InputGuardrail("no-fraud", timing: .parallel) { input in
                // The check is slow: it decides only after the model has asked to pay.
                while model.requests.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                return input.contains("stolen card") ? .trip("the input mentions a stolen card") : .pass
            }
        ]
        let result = await agent.run("Pay 500 with the stolen card.")
        #expect(result.outcome == .guardrailTripped(GuardrailTrip(guardrail: "no-fraud", stage: .input, reason: "the input mentions a stolen card")))
        #expect(calls.count == 0)
        #expect(model.requests.count == 1)
        // The call the model asked for has its result: not run.
        let answered = result.transcript.messages.compactMap { if case .tool(let result) = $0 { result } else { nil } }
        #expect(answered.map(\.callID) == ["p1"])
        #expect(answered.first?.isError == true)

        let clean = ScriptedModel(name: "payer", [.toolCall("pay", arguments: ["amount": 5], id: "p1"), .text("Paid.")])
        var allowed = agent
        allowed.model = clean
        #expect(await allowed.run("Pay 5 with my own card.").outcome == .completed(answer: "Paid."))
        #expect(calls.count == 1)
    }

    @Test func aBlockingInputGuardrailStopsTheRunBeforeAnyModelCall() async throws {
        let model = ScriptedModel(name: "m", [.text("never")])
        var agent = Agent(name: "a", model: model)
        agent.inputGuardrails = [.model("policy", model: ScriptedModel(name: "checker", [.text(#"{"allowed": false, "reason": "off topic"}"#)]), policy: "Only billing.")]
        let result = await agent.run("Write me a poem.")
        #expect(result.outcome == .guardrailTripped(GuardrailTrip(guardrail: "policy", stage: .input, reason: "off topic")))
        #expect(model.requests.isEmpty)
    }

    @Test func anOutputGuardrailSendsTheAnswerBackWithItsReasonUntilItPasses() async throws {
        let model = ScriptedModel(name: "w", [.text("draft one"), .text("draft two"), .text("FINAL: draft three")])
        let checks = Counter()
        var agent = Agent(name: "writer", model: model)
        agent.outputGuardrails = [
            OutputGuardrail("final-marker", maxRetries: 2) { answer in
                checks.add()
                return answer.hasPrefix("FINAL:") ? .pass : .retry("it must start with FINAL:")
            }
        ]
        let result = await agent.run("Write.")
        #expect(result.outcome == .completed(answer: "FINAL: draft three"))
        #expect(checks.count == 3)
        let feedback: [String] = model.requests.last?.messages.compactMap { message -> String? in
            if case .user(let text) = message { return text }
            return nil
        } ?? []
        #expect(feedback.filter { $0.contains("it must start with FINAL:") }.count == 2)

        var strict = agent
        strict.model = ScriptedModel(name: "w", [.text("one"), .text("two")])
        strict.outputGuardrails[0].maxRetries = 1
        guard case .guardrailTripped(let trip) = await strict.run("Write.").outcome else { Issue.record("expected a trip"); return }
        #expect(trip.guardrail == "final-marker")
        #expect(trip.reason.contains("after 1 retry"))
    }

    @Test func anAgentUsedAsAToolRunsInTheCallersRunWithItsCostAttributedToIt() async throws {
        var prices = SpendControls()
        prices.prices = PriceTable(["caller": ModelPrice(inputPerMillion: 1_000, outputPerMillion: 2_000), "researcher": ModelPrice(inputPerMillion: 3_000, outputPerMillion: 6_000)])
        var controls = AgentControls()
        controls.spend = prices
        let researcherModel = ScriptedModel(name: "researcher", [.toolCall("lookup", arguments: ["order": 3]), .text("Order 3 shipped on Monday.")])
        let researcher = Agent(name: "researcher", model: researcherModel, tools: [Lookup()], controls: controls)
        let callerModel = ScriptedModel(name: "caller", [
            .toolCall("researcher", arguments: ["input": "When did order 3 ship?"], id: "r1"), .text("It shipped on Monday."),
        ])
        let caller = Agent(name: "caller", model: callerModel, tools: [researcher.asTool(description: "Finds facts about orders.")], controls: controls)

        let path = try TemporaryFolder.make("keel-team").appendingPathComponent("keel.db").path
        let store = try SQLiteRunStore(path: path)
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(AgentFlow(agent: caller))])
            .start(AgentFlow(agent: caller), input: "When did order 3 ship?", runID: "tool")
        let result = try #require(try record.output?.decode(as: AgentRunResult.self))
        #expect(result.answer == "It shipped on Monday.")
        #expect(result.transcript.messages.contains { if case .tool(let r) = $0 { r.content == "Order 3 shipped on Monday." } else { false } })
        #expect(researcherModel.requests.count == 2)

        let journal = try await store.journal(runID: "tool")
        let nested = journal.filter { $0.scope == "call-1@researcher" }
        #expect(nested.map { $0.name.hasPrefix("tool-lookup-") ? "tool-lookup" : $0.name } == ["model-1", "tool-lookup", "model-2"])
        let shares = UsageByAgent.shares(of: journal, rootAgent: "caller")
        let total = UsageByAgent.total(of: journal)
        #expect(shares["researcher"]?.modelCalls == 2)
        #expect(shares["caller"]?.modelCalls == 2)
        #expect((shares["researcher"]?.costUSD ?? 0) > 0)
        #expect(abs((shares["researcher"]?.costUSD ?? 0) + (shares["caller"]?.costUSD ?? 0) - total.costUSD) < 1e-12)
    }
}

/// A durable workflow that runs one agent on its input.
struct AgentFlow: Workflow {
    let agent: Agent
    let name = "team-agent"
    func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
        try await agent.run(input, in: context)
    }
}
