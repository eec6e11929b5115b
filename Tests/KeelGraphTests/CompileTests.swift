import KeelCore
import KeelGraph
import Testing

@Schema
struct Counter: Codable, Sendable, Hashable {
    var count: Int
    var log: [String]
}

/// `compile` refuses what cannot run, naming every problem.
@Suite(.timeLimit(.minutes(1))) struct CompileTests {
    @Test func aValidGraphCompiles() throws {
        var graph = StateGraph(Counter.self)
        graph.reduce("log", with: .append)
        graph.addNode("one") { state, _ in try .set("count", state.count + 1) }
        graph.addEdge(START, "one")
        graph.addEdge("one", END)
        let compiled = try graph.compile()
        #expect(compiled.nodeNames == ["one"])
    }

    @Test func everyProblemIsListed() throws {
        var graph = StateGraph(Counter.self)
        graph.reduce("logs", with: .append)
        graph.addNode("one") { _, _ in .none }
        graph.addNode("one") { _, _ in .none }
        graph.addNode("island") { _, _ in .none }
        graph.addNode("a/b") { _, _ in .none }
        graph.addEdge("one", "missing")
        graph.addConditionalEdge(from: "island", targets: ["nowhere", END]) { _ in END }
        graph.interrupt(before: ["ghost"])
        let error = try #require(throws: GraphError.self) { try graph.compile(GraphOptions(recursionLimit: 0)) }
        #expect(error.code == .invalidGraph)
        let problems = error.problems.joined(separator: "\n")
        #expect(problems.contains("the node 'one' is added twice"))
        #expect(problems.contains("'a/b' must be non-empty, without '/'"))
        #expect(problems.contains("nothing starts the graph: add an edge from START"))
        #expect(problems.contains("an edge from 'one' leads to 'missing', which is not a node"))
        #expect(problems.contains("declares the target 'nowhere', which is not a node"))
        #expect(problems.contains("the node 'island' cannot be reached from START"))
        #expect(problems.contains("a reducer is declared for 'logs', which is not a field of Counter (fields: count, log)"))
        #expect(problems.contains("an interrupt is declared at 'ghost', which is not a node"))
        #expect(problems.contains("the recursion limit must be at least 1"))
    }

    @Test func aNodeWithoutAWayOutIsRefused() throws {
        var graph = StateGraph(Counter.self)
        graph.addNode("one") { _, _ in .none }
        graph.addNode("two") { _, _ in .none }
        graph.addEdge(START, "one")
        graph.addEdge("one", "two")
        let error = try #require(throws: GraphError.self) { try graph.compile() }
        #expect(error.problems == ["the node 'two' has no edge out: add an edge to the next node or to END"])
    }
}
