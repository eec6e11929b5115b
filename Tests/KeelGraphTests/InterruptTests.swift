import Foundation
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import Testing

/// Interrupts wait durably: the runtime that started the run is gone (a new runtime and store on
/// the same file stand for the next process) when the answers come.
@Suite(.timeLimit(.minutes(2))) struct InterruptTests {
    /// Two branches of a fan-out ask a person; each is answered and resumed on its own.
    @Test func parallelInterruptsResumeIndependentlyAcrossAProcessExit() async throws {
        let tally = Tally()
        var graph = StateGraph(Work.self)
        graph.reduce("answers", with: .append)
        graph.addNode("split") { _, _ in .none }
        graph.addNode("ask") { _, node in
            let item: String = try node.input()
            _ = try await node.run.step("before") { tally.add("before-\(item)") }
            let answer = try await node.interrupt("approve \(item)?", as: String.self)
            _ = try await node.run.step("after") { tally.add("after-\(item)") }
            return try .set("answers", ["\(item): \(answer)"])
        }
        graph.addEdge(START, "split")
        graph.addConditionalEdges(from: "split", targets: ["ask"]) { _ in try ["x", "y"].map { try Route.send("ask", $0) } }
        graph.addEdge("ask", END)
        let compiled = try graph.compile()
        let path = try graphStorePath()

        let first = try await runtime(path, GraphWorkflow("ask", compiled)).start(GraphWorkflow("ask", compiled), input: Work(), runID: "r")
        #expect(first.status == .waiting)
        let ids = first.waitingFor.sorted()
        #expect(ids == ["interrupt:s2.ask.0/1", "interrupt:s2.ask.1/1"])

        // The next "process": answer the second branch only.
        let store = try SQLiteRunStore(path: path)
        #expect(try await store.signal(runID: "r", name: ids[1], payload: ["value": "yes"], idempotencyKey: nil))
        let second = try await runtime(path, GraphWorkflow("ask", compiled)).run("r")
        #expect(second.status == .waiting)
        #expect(second.waitingFor == [ids[0]])
        #expect(tally["after-y"] == 1)
        #expect(tally["after-x"] == 0)

        // And another: answer the first.
        _ = try await store.signal(runID: "r", name: ids[0], payload: ["value": "no"], idempotencyKey: nil)
        let third = try await runtime(path, GraphWorkflow("ask", compiled)).run("r")
        #expect(third.status == .completed)
        #expect(try third.output?.decode(as: GraphResult<Work>.self).state.answers == ["x: no", "y: yes"])
        // Each branch's work before and after its question happened once.
        #expect(tally.all == ["before-x": 1, "before-y": 1, "after-x": 1, "after-y": 1])
    }

    /// `interruptAfter` stops after a node; the answer edits the state through the reducers.
    @Test func anInterruptAfterANodeResumesWithAnEditedState() async throws {
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("draft") { _, _ in try .set("items", ["drafted"]) }
        graph.addNode("publish") { state, _ in try .set("count", state.items.count) }
        graph.addEdge(START, "draft")
        graph.addEdge("draft", "publish")
        graph.addEdge("publish", END)
        graph.interrupt(after: ["draft"])
        let compiled = try graph.compile()
        let path = try graphStorePath()
        let first = try await runtime(path, GraphWorkflow("pub", compiled)).start(GraphWorkflow("pub", compiled), input: Work(), runID: "r")
        #expect(first.waitingFor == ["after:s1"])
        _ = try await SQLiteRunStore(path: path).signal(runID: "r", name: "after:s1", payload: ["update": ["items": ["edited by a person"]]], idempotencyKey: nil)
        let events = EventLog()
        let done = try await runtime(path, GraphWorkflow("pub", compiled, observer: events.observer)).run("r")
        let state = try #require(try done.output?.decode(as: GraphResult<Work>.self).state)
        #expect(state.items == ["drafted", "edited by a person"])
        #expect(state.count == 2)
        #expect(events.all.contains { if case .stateEdited = $0 { true } else { false } })
    }

    @Test func anInterruptBeforeANodeWaitsUntilSignalled() async throws {
        let tally = Tally()
        var graph = StateGraph(Work.self)
        graph.addNode("pay") { state, node in
            _ = try await node.run.step("pay") { tally.add("paid") }
            return try .set("count", state.count + 1)
        }
        graph.addEdge(START, "pay")
        graph.addEdge("pay", END)
        graph.interrupt(before: ["pay"])
        let compiled = try graph.compile()
        let path = try graphStorePath()
        let first = try await runtime(path, GraphWorkflow("pay", compiled)).start(GraphWorkflow("pay", compiled), input: Work(), runID: "r")
        #expect(first.waitingFor == ["before:s1"])
        #expect(tally["paid"] == 0)
        _ = try await SQLiteRunStore(path: path).signal(runID: "r", name: "before:s1", payload: .null, idempotencyKey: nil)
        let done = try await runtime(path, GraphWorkflow("pay", compiled)).run("r")
        #expect(done.status == .completed)
        #expect(tally["paid"] == 1)
    }
}
