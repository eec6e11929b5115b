import Foundation
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

/// What nodes do through their context: model calls under the run's controls, streamed text,
/// subgraphs in their own scope.
@Suite(.timeLimit(.minutes(2))) struct NodeStepTests {
    /// A graph that asks `model` once per super-step, in a loop of `superSteps`.
    static func asking(_ model: any ChatModel, controls: AgentControls, superSteps: Int) throws -> CompiledGraph<Work> {
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("ask") { state, node in
            let reply = try await node.model(model, ChatRequest(messages: [.user("item \(state.count)")], maxOutputTokens: 50), name: "ask", controls: controls)
            return try StateUpdate.set("count", state.count + 1).setting("items", [reply.message.text ?? ""])
        }
        graph.addEdge(START, "ask")
        graph.addConditionalEdge(from: "ask", targets: ["ask", END]) { $0.count < superSteps ? "ask" : END }
        return try graph.compile()
    }

    /// The run's budget counts every node's model calls: the third is refused before it is made.
    @Test func theRunBudgetAppliesToModelCallsInNodes() async throws {
        let model = ScriptedModel((0..<5).map { _ in .response(ChatResponse(message: AssistantMessage(text: "ok"), usage: Usage(inputTokens: 30, outputTokens: 10))) })
        var controls = AgentControls()
        var spend = SpendControls()
        spend.runBudget = Budget(maxTokens: 150)
        controls.spend = spend
        let flow = GraphWorkflow("ask", try Self.asking(model, controls: controls, superSteps: 5))
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r")
        #expect(record.status == .failed)
        #expect(record.failure?.description.contains("budget") == true)
        #expect(model.requests.count == 2)
    }

    /// Past the run's deadline the graph stops between super-steps, with the state it reached: the
    /// third super-step's node outlasts the deadline, so no fourth starts (on a machine so slow
    /// that the deadline passes earlier, it stops earlier — never later).
    @Test func theRunsDeadlineStopsTheGraphBetweenSuperSteps() async throws {
        let deadline = Date().addingTimeInterval(3)
        let flow = GraphWorkflow("ticks", try Self.ticking(waitingPast: deadline))
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r", deadline: deadline)
        let result = try #require(try record.output?.decode(as: GraphResult<Work>.self))
        #expect(result.outcome == .deadlineReached)
        #expect(result.superSteps <= 3)
        #expect(result.state.count == result.superSteps)
    }

    /// A run whose deadline has passed before it starts takes no super-step.
    @Test func aRunPastItsDeadlineTakesNoSuperStep() async throws {
        let flow = GraphWorkflow("ticks", try Self.ticking(waitingPast: Date()))
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r", deadline: Date().addingTimeInterval(-1))
        let result = try #require(try record.output?.decode(as: GraphResult<Work>.self))
        #expect(result.outcome == .deadlineReached)
        #expect(result.superSteps == 0)
    }

    /// An endless loop whose third tick waits until `instant` has passed.
    static func ticking(waitingPast instant: Date) throws -> CompiledGraph<Work> {
        var graph = StateGraph(Work.self)
        graph.addNode("tick") { state, _ in
            if state.count == 2 {
                while Date() <= instant { try await Task.sleep(for: .milliseconds(20)) }
            }
            return try .set("count", state.count + 1)
        }
        graph.addEdge(START, "tick")
        graph.addConditionalEdge(from: "tick", targets: ["tick", END]) { _ in "tick" }
        return try graph.compile(GraphOptions(recursionLimit: 1_000))
    }

    @Test func modelTextIsStreamedToTheObserver() async throws {
        let events = EventLog()
        let flow = GraphWorkflow("ask", try Self.asking(ScriptedModel([.text("streamed words")]), controls: AgentControls(), superSteps: 1), observer: events.observer)
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r")
        #expect(record.status == .completed)
        let text = events.all.compactMap { if case .textDelta("ask", nil, let text) = $0 { text } else { nil } }.joined()
        #expect(text == "streamed words")
        #expect(events.all.contains { if case .nodeStarted("ask", nil, 1) = $0 { true } else { false } })
    }

    /// A subgraph runs in its node's scope; resumed after the outer graph failed, its nodes do not
    /// run again.
    @Test func aSubgraphRunsInItsNodesScopeAndReplays() async throws {
        let tally = Tally()
        var inner = StateGraph(Work.self)
        inner.reduce("items", with: .append)
        inner.addNode("step") { state, node in
            _ = try await node.run.step("work") { tally.add("inner-\(state.count)") }
            return try StateUpdate.set("count", state.count + 1).setting("items", ["inner \(state.count)"])
        }
        inner.addEdge(START, "step")
        inner.addConditionalEdge(from: "step", targets: ["step", END]) { $0.count < 2 ? "step" : END }
        let compiledInner = try inner.compile()

        var outer = StateGraph(Work.self)
        outer.reduce("items", with: .append)
        outer.addSubgraph("nested", compiledInner, input: { _ in Work("inner") }, output: { result in try .set("items", result.state.items) })
        outer.addNode("fail") { _, node in
            _ = try await node.run.step("once") { () -> Int in
                if tally.add("fail") == 1 { throw TestFailure("fails once") }
                return 1
            }
            return .none
        }
        outer.addEdge(START, "nested")
        outer.addEdge("nested", "fail")
        outer.addEdge("fail", END)
        let flow = GraphWorkflow("outer", try outer.compile())
        let path = try graphStorePath()
        #expect(try await runtime(path, flow).start(flow, input: Work(), runID: "r").status == .failed)
        _ = try await SQLiteRunStore(path: path).reopen(runID: "r")
        let record = try await runtime(path, flow).run("r")
        #expect(try record.output?.decode(as: GraphResult<Work>.self).state.items == ["inner 0", "inner 1"])
        #expect(tally.all == ["inner-0": 1, "inner-1": 1, "fail": 2])
        let scopes = Set(try await SQLiteRunStore(path: path).journal(runID: "r").map(\.scope))
        #expect(scopes.contains("s1.nested"))
        #expect(scopes.contains("s1.nested/s1.step"))
    }
}
