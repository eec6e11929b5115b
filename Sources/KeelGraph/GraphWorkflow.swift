import KeelCore
import KeelRuntime

/// A compiled graph as a durable ``KeelRuntime/Workflow``: its input is the initial state, its
/// output the ``GraphResult``.
///
/// ```swift
/// let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(GraphWorkflow("essay", essay))])
/// let record = try await runtime.start(GraphWorkflow("essay", essay), input: Essay(topic: "tides"))
/// ```
public struct GraphWorkflow<State: Codable & Sendable & SchemaRepresentable>: Workflow {
    public let name: String
    public let graph: CompiledGraph<State>
    /// Told about the run's progress.
    public var observer: (@Sendable (GraphEvent) -> Void)?

    public init(_ name: String, _ graph: CompiledGraph<State>, observer: (@Sendable (GraphEvent) -> Void)? = nil) {
        self.name = name
        self.graph = graph
        self.observer = observer
    }

    public func run(_ input: State, context: RunContext) async throws -> GraphResult<State> {
        try await graph.run(input, in: context, observer: observer)
    }
}
