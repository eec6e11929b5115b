import Foundation
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import Testing

/// History and forks: the state after each super-step, and a new run from any of them.
@Suite(.timeLimit(.minutes(2))) struct TimeTravelTests {
    static func counting(_ tally: Tally) throws -> CompiledGraph<Work> {
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("tick") { state, node in
            let count = state.count + 1
            _ = try await node.run.step("tick") { tally.add("tick-\(count)") }
            return try StateUpdate.set("count", count).setting("items", ["\(count)"])
        }
        graph.addEdge(START, "tick")
        graph.addConditionalEdge(from: "tick", targets: ["tick", END]) { $0.count < 4 ? "tick" : END }
        return try graph.compile(GraphOptions(snapshotEvery: 3))
    }

    @Test func theHistoryListsTheStateAfterEachSuperStep() async throws {
        let graph = try Self.counting(Tally())
        let path = try graphStorePath()
        _ = try await runtime(path, GraphWorkflow("ticks", graph)).start(GraphWorkflow("ticks", graph), input: Work(), runID: "r")
        let history = try graph.history(try await SQLiteRunStore(path: path).journal(runID: "r"), initial: Work())
        #expect(history.map(\.superStep) == [0, 1, 2, 3, 4])
        #expect(history.map { $0.state["count"]?.intValue } == [0, 1, 2, 3, 4])
        #expect(history.map(\.next) == [["tick"], ["tick"], ["tick"], ["tick"], []])
        #expect(history[2].updates["tick"]?.fields["items"] == ["2"])
    }

    /// A fork after super-step 2 with an edited state goes on from there: nothing before it runs
    /// again, and the edit shapes what follows.
    @Test func aForkWithAnEditedStateGoesOnFromThatSuperStep() async throws {
        let tally = Tally()
        let graph = try Self.counting(tally)
        let path = try graphStorePath()
        let original = try await runtime(path, GraphWorkflow("ticks", graph)).start(GraphWorkflow("ticks", graph), input: Work(), runID: "r")
        #expect(try original.output?.decode(as: GraphResult<Work>.self).state.count == 4)
        let store = try SQLiteRunStore(path: path)
        let fork = try await graph.fork(
            "r", atSuperStep: 2, in: store, newRunID: "f", initial: Work(), edit: GraphResume(update: try StateUpdate.set("items", ["edited"])))
        #expect(fork.id == "f")
        let forked = try await runtime(path, GraphWorkflow("ticks", graph)).run("f")
        let state = try #require(try forked.output?.decode(as: GraphResult<Work>.self).state)
        #expect(state.items == ["1", "2", "edited", "3", "4"])
        // Ticks 1 and 2 ran once (in the original); 3 and 4 once more in the fork.
        #expect(tally.all == ["tick-1": 1, "tick-2": 1, "tick-3": 2, "tick-4": 2])
        let history = try graph.history(try await store.journal(runID: "f"), initial: Work())
        #expect(history.map(\.isEdited) == [false, false, true, false, false])
    }

    @Test func aForkWithAStateThatDoesNotDecodeIsRefusedBeforeItExists() async throws {
        let graph = try Self.counting(Tally())
        let path = try graphStorePath()
        _ = try await runtime(path, GraphWorkflow("ticks", graph)).start(GraphWorkflow("ticks", graph), input: Work(), runID: "r")
        let store = try SQLiteRunStore(path: path)
        await #expect(throws: GraphError.self) {
            try await graph.fork("r", atSuperStep: 1, in: store, newRunID: "f", initial: Work(), edit: GraphResume(update: try StateUpdate.set("count", "many")))
        }
        #expect(try await store.run(id: "f") == nil)
        await #expect(throws: GraphError.self) { try await graph.fork("r", atSuperStep: 9, in: store, newRunID: "g", initial: Work()) }
    }

    @Test func mermaidDrawsTheGraphAndThePathARunTook() throws {
        let graph = try Self.counting(Tally())
        let plain = graph.mermaid()
        #expect(plain.hasPrefix("flowchart TD\n"))
        #expect(plain.contains("    __start__ --> n_tick"))
        #expect(plain.contains("    n_tick -.-> n_tick"))
        #expect(plain.contains("    n_tick -.-> __end__"))
        #expect(!plain.contains("classDef"))
        let walked = graph.mermaid(path: [["tick"], ["tick"], ["tick"]])
        #expect(walked.contains("n_tick[\"tick ×3\"]"))
        #expect(walked.contains("class n_tick visited"))
        #expect(walked.contains("linkStyle 0 stroke"))
    }
}
