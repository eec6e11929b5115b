import KeelApp
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import Testing

@Schema
struct Essay: Codable, Sendable {
    var topic: String
    var notes: [String]
    var draft: String
    init(topic: String) {
        self.topic = topic
        notes = []
        draft = ""
    }
}

/// The README's graph, verbatim but for what it leaves out (the writer, `draft`, the runtime).
@Suite(.timeLimit(.minutes(1))) struct ReadmeGraphExampleTests {
    func draft(_ state: Essay, _ node: NodeContext) async throws -> String { state.notes.joined(separator: " ") }

    @Test func theReadmeGraphRuns() async throws {
        let writer = EditorModel()

        var graph = StateGraph(Essay.self)
        graph.reduce("notes", with: .append)
        graph.addNode("research") { state, node in
            let reply = try await node.model(writer, ChatRequest(messages: [.user("Facts about \(state.topic)")]), name: "research")
            return try .set("notes", [reply.message.text ?? ""])
        }
        graph.addNode("draft") { state, node in try .set("draft", try await draft(state, node)) }
        graph.addEdge(START, "research")
        graph.addEdge("research", "draft")
        graph.addConditionalEdge(from: "draft", targets: ["research", END]) { $0.notes.count < 3 ? "research" : END }
        let essay = GraphWorkflow("essay", try graph.compile())
        let runtime = DurableRuntime(store: try SQLiteRunStore(path: try graphStorePath()), workflows: [AnyWorkflow(essay)])
        let record = try await runtime.start(essay, input: Essay(topic: "tides"))

        let result = try #require(try record.output?.decode(as: GraphResult<Essay>.self))
        #expect(result.state.notes.count == 3)
        #expect(!result.state.draft.isEmpty)
    }
}
