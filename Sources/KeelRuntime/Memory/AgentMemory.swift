import Foundation
import KeelCore

/// Memory for an agent: tools to remember, recall and forget passages (and to set and read facts),
/// and automatic recall of the memories closest to the user's input before the first model call.
///
/// ```swift
/// let memory = AgentMemory(index: store, embedder: HashingEmbedder(), scope: MemoryScope(tenant: "acme", user: "ann"), facts: store)
/// var agent = Agent(name: "helper", model: model, tools: memory.tools)
/// agent.memory = memory
/// ```
///
/// The tools are tools like any other: governed by the agent's policies (a policy can forbid
/// `forget`), audited, journaled. `remember` and `forget` change the world and are journaled as
/// started before they run; `remember` keys the memory by the call's idempotency key, so a call
/// run again after a crash replaces the memory instead of adding a second copy.
public struct AgentMemory: Sendable {
    public var index: any VectorIndex
    public var embedder: any EmbeddingModel
    public var scope: MemoryScope
    /// Where `set_fact` and `get_fact` keep facts; `nil` offers no fact tools.
    public var facts: (any FactStore)?
    /// How many memories automatic recall puts before the first model call; 0 turns it off.
    /// Default: 3.
    public var recallTopK: Int = 3
    /// The least cosine similarity a recalled memory must have. Default: 0.2.
    public var minimumScore: Float = 0.2

    public init(index: any VectorIndex, embedder: any EmbeddingModel, scope: MemoryScope, facts: (any FactStore)? = nil) {
        self.index = index
        self.embedder = embedder
        self.scope = scope
        self.facts = facts
    }

    /// The system message automatic recall adds, before the recalled memories.
    public static let recallHeading = "Memories that may be relevant (from earlier conversations):"

    // MARK: Automatic recall

    /// `loop` with the memories closest to its last user message added after its instructions, as
    /// a journaled step (`recall`) of `context`, so that a resumed run recalls the same.
    func recalled(into loop: AgentLoop, context: RunContext) async throws -> AgentLoop {
        let input = loop.transcript.messages.last { if case .user = $0 { true } else { false } }?.text ?? ""
        guard recallTopK > 0, !input.isEmpty else { return loop }
        let (index, embedder, scope, k, minimum) = (index, embedder, scope, min(recallTopK, 50), minimumScore)
        let matches = try await context.step("recall") { () -> [MemoryMatch] in
            guard let query = try await embedder.embed([String(input.prefix(8_000))]).vectors.first else { return [] }
            return try await index.search(query, k: k, in: scope).filter { $0.score >= minimum }
        }
        guard !matches.isEmpty else { return loop }
        var messages = loop.transcript.messages
        let note = Message.system(Self.recallHeading + "\n" + matches.map { "- \($0.text.prefix(2_000))" }.joined(separator: "\n"))
        let position = messages.firstIndex { if case .system = $0 { false } else { true } } ?? messages.endIndex
        messages.insert(note, at: position)
        return AgentLoop(transcript: Transcript(messages), tools: loop.tools, configuration: loop.configuration, output: loop.output)
    }

    // MARK: Tools

    /// `remember`, `recall` and `forget`, and `set_fact` and `get_fact` with a fact store.
    public var tools: [AnyTool] {
        var tools = [remember, recall, forget]
        if let facts { tools += [Self.setFact(facts, scope: scope), Self.getFact(facts, scope: scope)] }
        return tools
    }

    private var remember: AnyTool {
        let (index, embedder, scope) = (index, embedder, scope)
        let definition = ToolDefinition(
            name: "remember", description: "Keep a passage in long-term memory, to be recalled in later conversations.",
            parameters: .object(properties: [("text", .string(description: "What to remember, stated on its own.", maxLength: 4_000))], required: ["text"]))
        return AnyTool(definition: definition, isSideEffecting: true) { arguments, context in
            let text = arguments["text"]?.stringValue ?? ""
            guard let vector = try await embedder.embed([text]).vectors.first else { throw ToolCallError(.failed, "the embedder returned no vector") }
            let id = "m-" + SHA256.hexDigest(context.idempotencyKey).prefix(16)
            try await index.add([MemoryRecord(id: id, scope: scope, text: text, vector: vector)])
            return "Remembered (id \(id))."
        }
    }

    private var recall: AnyTool {
        let (index, embedder, scope) = (index, embedder, scope)
        let definition = ToolDefinition(
            name: "recall", description: "Search long-term memory for passages about something.",
            parameters: .object(
                properties: [
                    ("query", .string(description: "What to look for.", maxLength: 2_000)),
                    ("limit", .integer(description: "How many passages, 1 to 10.", minimum: 1, maximum: 10)),
                ], required: ["query"]))
        return AnyTool(definition: definition) { arguments, _ in
            let query = arguments["query"]?.stringValue ?? ""
            let limit = Int(arguments["limit"]?.doubleValue ?? 5)
            guard let vector = try await embedder.embed([query]).vectors.first else { throw ToolCallError(.failed, "the embedder returned no vector") }
            let matches = try await index.search(vector, k: max(1, min(limit, 10)), in: scope)
            guard !matches.isEmpty else { return "Nothing in memory about that." }
            return JSONValue.array(matches.map { .object(["id": .string($0.id), "text": .string($0.text), "score": .number(Double($0.score))]) }).serialized()
        }
    }

    private var forget: AnyTool {
        let (index, scope) = (index, scope)
        let definition = ToolDefinition(
            name: "forget", description: "Delete a passage from long-term memory by its id (as recall shows it).",
            parameters: .object(properties: [("id", .string(description: "The memory's id.", maxLength: 200))], required: ["id"]))
        return AnyTool(definition: definition, isSideEffecting: true) { arguments, _ in
            let id = arguments["id"]?.stringValue ?? ""
            return try await index.delete(ids: [id], in: scope) > 0 ? "Forgot \(id)." : "There is no memory with the id \(id)."
        }
    }

    private static func setFact(_ facts: any FactStore, scope: MemoryScope) -> AnyTool {
        let definition = ToolDefinition(
            name: "set_fact", description: "Keep an exact fact (a key and its value), replacing the key's earlier value.",
            parameters: .object(
                properties: [("key", .string(description: "The fact's name, such as preferred_language.", maxLength: 200)), ("value", .string(maxLength: 4_000))],
                required: ["key", "value"]))
        return AnyTool(definition: definition, isSideEffecting: true) { arguments, _ in
            let fact = try await facts.setFact(arguments["key"]?.stringValue ?? "", to: arguments["value"]?.stringValue ?? "", in: scope, timeToLive: nil)
            return "Set \(fact.key) (version \(fact.version))."
        }
    }

    private static func getFact(_ facts: any FactStore, scope: MemoryScope) -> AnyTool {
        let definition = ToolDefinition(
            name: "get_fact", description: "Read an exact fact by its key.",
            parameters: .object(properties: [("key", .string(description: "The fact's name.", maxLength: 200))], required: ["key"]))
        return AnyTool(definition: definition) { arguments, _ in
            let key = arguments["key"]?.stringValue ?? ""
            return try await facts.fact(key, in: scope)?.value ?? "No fact named \(key)."
        }
    }
}
