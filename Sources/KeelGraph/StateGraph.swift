import KeelCore
import KeelRuntime

/// A graph of nodes over a typed state, run as a durable workflow (LangGraph's `StateGraph`).
///
/// `State` is a `Codable` struct with ``KeelCore/Schema()`` (its properties are the fields that
/// updates and reducers name). A node is an async function of the state and a ``NodeContext``
/// that returns a ``StateUpdate``; edges say what runs next, conditional edges decide it from the
/// state, and cycles are allowed.
///
/// ```swift
/// var graph = StateGraph(Essay.self)
/// graph.reduce("notes", with: .append)
/// graph.addNode("research") { state, node in try .set("notes", [try await research(state, node)]) }
/// graph.addNode("draft") { state, node in try .set("draft", try await draft(state, node)) }
/// graph.addEdge(START, "research")
/// graph.addEdge("research", "draft")
/// graph.addConditionalEdge(from: "draft", targets: ["research", END]) { $0.notes.count < 3 ? "research" : END }
/// let essay = try graph.compile()
/// let result = try await essay.run(Essay(topic: "tides"), in: context)
/// ```
///
/// Building records what it is told; ``compile(_:)`` checks the whole definition and refuses it
/// with every problem listed.
public struct StateGraph<State: Codable & Sendable & SchemaRepresentable>: Sendable {
    /// A node: the state as it was when the super-step began, and the node's context.
    public typealias NodeFunction = @Sendable (_ state: State, _ node: NodeContext) async throws -> StateUpdate
    /// A conditional edge's decision: where to go from the state after the node's super-step.
    public typealias Router = @Sendable (_ state: State) throws -> [Route]

    struct Node: Sendable {
        let name: String
        let retry: NodeRetry
        let body: NodeFunction
    }

    struct ConditionalEdge: Sendable {
        let from: String
        let targets: [String]
        let router: Router
    }

    var nodes: [Node] = []
    var edges: [(from: String, to: String)] = []
    var conditionalEdges: [ConditionalEdge] = []
    var reducers: [String: Reducer] = [:]
    var interruptsBefore: Set<String> = []
    var interruptsAfter: Set<String> = []

    /// An empty graph over `State`.
    public init(_ state: State.Type = State.self) {}

    /// Adds the node `name`, retried by `retry` when it throws.
    public mutating func addNode(_ name: String, retry: NodeRetry = .none, _ body: @escaping NodeFunction) {
        nodes.append(Node(name: name, retry: retry, body: body))
    }

    /// Adds a node that runs `subgraph` in the node's own scope: `input` makes the subgraph's
    /// initial state from this graph's, `output` turns the subgraph's final state into this
    /// graph's update. The subgraph's super-steps are journaled in the node's scope.
    public mutating func addSubgraph<Sub>(
        _ name: String, _ subgraph: CompiledGraph<Sub>, retry: NodeRetry = .none, input: @escaping @Sendable (State) throws -> Sub,
        output: @escaping @Sendable (GraphResult<Sub>) throws -> StateUpdate
    ) {
        addNode(name, retry: retry) { state, node in
            let result = try await subgraph.run(try input(state), in: node.run, observer: node.observer, takesStateEdits: false)
            return try output(result)
        }
    }

    /// After `from` runs, `to` runs (``START`` for an entry, ``END`` for an exit).
    public mutating func addEdge(_ from: String, _ to: String) {
        edges.append((from, to))
    }

    /// After `from` runs, `router` decides from the new state where to go: any of `targets`
    /// (nodes or ``END``), or fan-out sends to them. Declaring the targets lets the graph be
    /// checked and drawn; a router that returns another is an error.
    public mutating func addConditionalEdges(from: String, targets: [String], _ router: @escaping Router) {
        conditionalEdges.append(ConditionalEdge(from: from, targets: targets, router: router))
    }

    /// ``addConditionalEdges(from:targets:_:)`` with a router that picks one target.
    public mutating func addConditionalEdge(from: String, targets: [String], _ router: @escaping @Sendable (State) throws -> String) {
        addConditionalEdges(from: from, targets: targets) { [Route(try router($0))] }
    }

    /// Combines updates of `field` with `reducer` instead of replacing it.
    public mutating func reduce(_ field: String, with reducer: Reducer) {
        reducers[field] = reducer
    }

    /// Makes the run wait for a person before the named nodes run (`before`) or after their
    /// super-step (`after`). The run may exit while it waits; it resumes when the wait's signal is
    /// sent (see ``GraphResume``).
    public mutating func interrupt(before: [String] = [], after: [String] = []) {
        interruptsBefore.formUnion(before)
        interruptsAfter.formUnion(after)
    }

    /// Checks the definition and returns the graph ready to run.
    ///
    /// Refused, with every problem listed in ``GraphError/problems``: a node name that is empty,
    /// reserved, repeated or holds `/`; no edge from ``START``; an edge or target naming no node; a
    /// node without an edge out; a node that cannot be reached from ``START``; a reducer for a
    /// field the state does not have; an interrupt at an unknown node; options out of range.
    public func compile(_ options: GraphOptions = GraphOptions()) throws -> CompiledGraph<State> {
        var problems: [String] = []
        var names: Set<String> = []
        for node in nodes {
            if node.name.isEmpty || node.name.contains("/") || node.name.contains("~") || node.name.contains(where: \.isWhitespace) {
                problems.append("the node name '\(node.name)' must be non-empty, without '/', '~' or spaces")
            } else if node.name == START || node.name == END {
                problems.append("'\(node.name)' is reserved and cannot name a node")
            } else if !names.insert(node.name).inserted {
                problems.append("the node '\(node.name)' is added twice")
            }
        }
        func check(_ name: String, _ role: String) {
            if name != END, !names.contains(name) { problems.append("\(role) '\(name)', which is not a node") }
        }
        var successors: [String: Set<String>] = [:]
        for edge in edges {
            if edge.from != START { check(edge.from, "an edge starts at") }
            if edge.to == START { problems.append("an edge from '\(edge.from)' leads to START") } else { check(edge.to, "an edge from '\(edge.from)' leads to") }
            successors[edge.from, default: []].insert(edge.to)
        }
        for edge in conditionalEdges {
            if edge.from != START { check(edge.from, "a conditional edge starts at") }
            if edge.targets.isEmpty { problems.append("the conditional edge from '\(edge.from)' declares no targets") }
            for target in edge.targets { check(target, "the conditional edge from '\(edge.from)' declares the target") }
            successors[edge.from, default: []].formUnion(edge.targets)
        }
        if successors[START, default: []].isEmpty { problems.append("nothing starts the graph: add an edge from START") }
        for name in names where successors[name, default: []].isEmpty {
            problems.append("the node '\(name)' has no edge out: add an edge to the next node or to END")
        }
        var reached: Set<String> = []
        var frontier = [START]
        while let next = frontier.popLast() {
            for target in successors[next, default: []] where reached.insert(target).inserted { frontier.append(target) }
        }
        for node in nodes where names.contains(node.name) && !reached.contains(node.name) {
            problems.append("the node '\(node.name)' cannot be reached from START")
        }
        let fields = Set(State.jsonSchema.properties.map(\.name))
        for field in reducers.keys.sorted() where !fields.contains(field) {
            problems.append("a reducer is declared for '\(field)', which is not a field of \(State.self) (fields: \(fields.sorted().joined(separator: ", ")))")
        }
        for name in interruptsBefore.union(interruptsAfter).sorted() where !names.contains(name) {
            problems.append("an interrupt is declared at '\(name)', which is not a node")
        }
        if options.recursionLimit < 1 { problems.append("the recursion limit must be at least 1") }
        if options.snapshotEvery < 1 { problems.append("snapshots must be taken every 1 or more super-steps") }
        if options.maxConcurrency < 1 { problems.append("at least one node must be allowed to run at a time") }
        guard problems.isEmpty else {
            throw GraphError(.invalidGraph, "the graph over \(State.self) is not valid: " + problems.joined(separator: "; "), problems: problems)
        }
        return CompiledGraph(definition: self, options: options, fields: fields)
    }
}
