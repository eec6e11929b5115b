import Foundation
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import Testing

/// Graph runs on a real SQLite file: routing, cycles, fan-out, failures, snapshots and replay.
@Suite(.timeLimit(.minutes(2))) struct GraphRunTests {
    @Test func conditionalEdgesRouteOnTheNewState() async throws {
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("count") { state, _ in try .set("count", state.count + 1) }
        graph.addNode("small") { _, _ in try .set("items", ["small"]) }
        graph.addNode("large") { _, _ in try .set("items", ["large"]) }
        graph.addEdge(START, "count")
        graph.addConditionalEdge(from: "count", targets: ["small", "large"]) { $0.count > 1 ? "large" : "small" }
        graph.addConditionalEdge(from: "small", targets: ["count", END]) { _ in "count" }
        graph.addEdge("large", END)
        let flow = GraphWorkflow("route", try graph.compile())
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r")
        let result = try #require(try record.output?.decode(as: GraphResult<Work>.self))
        #expect(result.outcome == .finished)
        #expect(result.state.items == ["small", "large"])
        #expect(result.state.count == 2)
        #expect(result.superSteps == 4)
    }

    @Test func aCycleIsStoppedByTheRecursionLimit() async throws {
        var graph = StateGraph(Work.self)
        graph.addNode("tick") { state, _ in try .set("count", state.count + 1) }
        graph.addEdge(START, "tick")
        graph.addConditionalEdge(from: "tick", targets: ["tick", END]) { _ in "tick" }
        let flow = GraphWorkflow("loop", try graph.compile(GraphOptions(recursionLimit: 7)))
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r")
        #expect(record.status == .completed)
        let result = try #require(try record.output?.decode(as: GraphResult<Work>.self))
        #expect(result.outcome == .recursionLimitReached)
        #expect(result.superSteps == 7)
        #expect(result.state.count == 7)
    }

    /// A fan-out to three branches, `a`, `b` and `c`, each doing its work in a step that `tally`
    /// counts; `b`'s fails the first time.
    static func fanOut(_ tally: Tally, retry: NodeRetry) throws -> CompiledGraph<Work> {
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("split") { _, _ in .none }
        graph.addNode("work", retry: retry) { _, node in
            let item: String = try node.input()
            let done = try await node.run.step("work") { () -> String in
                tally.add(item)
                if item == "b", tally[item] == 1 { throw TestFailure("b fails the first time") }
                return item.uppercased()
            }
            return try .set("items", [done])
        }
        graph.addEdge(START, "split")
        graph.addConditionalEdges(from: "split", targets: ["work"]) { _ in try ["a", "b", "c"].map { try Route.send("work", $0) } }
        graph.addEdge("work", END)
        return try graph.compile()
    }

    /// Three branches of a fan-out; the second fails once and is retried alone, the others run once.
    @Test func aFailingBranchIsRetriedAlone() async throws {
        let tally = Tally()
        let flow = GraphWorkflow("fan", try Self.fanOut(tally, retry: NodeRetry(maxAttempts: 2, backoff: .milliseconds(1))))
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r")
        let result = try #require(try record.output?.decode(as: GraphResult<Work>.self))
        #expect(result.state.items == ["A", "B", "C"])  // by branch index, whatever finished first
        #expect(tally.all == ["a": 1, "b": 2, "c": 1])
    }

    /// With no retry the run fails; resumed, only the failed branch runs again.
    @Test func aResumedFanOutRunsOnlyTheFailedBranch() async throws {
        let tally = Tally()
        let flow = GraphWorkflow("fan", try Self.fanOut(tally, retry: .none))
        let path = try graphStorePath()
        let first = try await runtime(path, flow).start(flow, input: Work(), runID: "r")
        #expect(first.status == .failed)
        let store = try SQLiteRunStore(path: path)
        _ = try await store.reopen(runID: "r")
        let second = try await runtime(path, flow).run("r")
        #expect(second.status == .completed)
        #expect(try second.output?.decode(as: GraphResult<Work>.self).state.items == ["A", "B", "C"])
        #expect(tally.all == ["a": 1, "b": 2, "c": 1])
    }

    /// A resumed run takes its state from the latest snapshot and replays no node.
    @Test func aResumedRunStartsFromTheLatestSnapshot() async throws {
        let tally = Tally()
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("tick") { state, node in
            let count = state.count + 1
            _ = try await node.run.step("tick") { () -> Int in
                tally.add("tick-\(count)")
                if count == 5, tally["tick-5"] == 1 { throw TestFailure("the fifth tick fails once") }
                return count
            }
            return try StateUpdate.set("count", count).setting("items", ["\(count)"])
        }
        graph.addEdge(START, "tick")
        graph.addConditionalEdge(from: "tick", targets: ["tick", END]) { $0.count < 6 ? "tick" : END }
        let compiled = try graph.compile(GraphOptions(snapshotEvery: 2))
        let path = try graphStorePath()
        let first = try await runtime(path, GraphWorkflow("ticks", compiled)).start(GraphWorkflow("ticks", compiled), input: Work(), runID: "r")
        #expect(first.status == .failed)
        _ = try await SQLiteRunStore(path: path).reopen(runID: "r")
        let events = EventLog()
        let second = try await runtime(path, GraphWorkflow("ticks", compiled, observer: events.observer)).run("r")
        let result = try #require(try second.output?.decode(as: GraphResult<Work>.self))
        #expect(result.state.count == 6)
        #expect(result.state.items == ["1", "2", "3", "4", "5", "6"])
        // Super-steps 1-4 were journaled: the snapshot at 4 stands for all of them.
        #expect(events.finished.map(\.0) == [4, 5, 6])
        #expect(events.finished.map(\.1) == [true, false, false])
        #expect((1...6).map { tally["tick-\($0)"] } == [1, 1, 1, 1, 2, 1])
    }

    @Test func anUpdateOfAnUnknownFieldFailsWithTheNodesName() async throws {
        var graph = StateGraph(Work.self)
        graph.addNode("typo") { _, _ in try .set("cuont", 1) }
        graph.addEdge(START, "typo")
        graph.addEdge("typo", END)
        let flow = GraphWorkflow("typo", try graph.compile())
        let record = try await runtime(try graphStorePath(), flow).start(flow, input: Work(), runID: "r")
        #expect(record.status == .failed)
        #expect(record.failure?.description.contains("node 'typo' updates 'cuont', which is not a field of Work") == true)
    }

    @Test func eachSuperStepIsOneJournalEntryHoldingTheDelta() async throws {
        var graph = StateGraph(Work.self)
        graph.reduce("items", with: .append)
        graph.addNode("a") { _, _ in try .set("items", ["from a"]) }
        graph.addNode("b") { _, _ in try .set("items", ["from b"]) }
        graph.addEdge(START, "b")
        graph.addEdge(START, "a")
        graph.addEdge("a", END)
        graph.addEdge("b", END)
        let flow = GraphWorkflow("pair", try graph.compile())
        let path = try graphStorePath()
        _ = try await runtime(path, flow).start(flow, input: Work(String(repeating: "long topic ", count: 100)), runID: "r")
        let journal = try await SQLiteRunStore(path: path).journal(runID: "r")
        #expect(journal.map(\.name) == ["superstep 1"])
        let result = try #require(journal.first?.result)
        // The delta, not the state: the long topic is not in it.
        #expect(!result.serialized().contains("long topic"))
        #expect(result["updates"]?.arrayValue?.compactMap { $0["node"]?.stringValue } == ["a", "b"])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
