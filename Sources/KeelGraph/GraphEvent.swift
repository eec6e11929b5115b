import KeelCore

/// Progress of a graph run, for a command line or a server to show.
public enum GraphEvent: Sendable {
    /// Super-step `index` starts with these nodes (a fan-out's node once per branch).
    case superStepStarted(index: Int, nodes: [String])
    /// A node starts (attempt from 1).
    case nodeStarted(node: String, branch: Int?, attempt: Int)
    /// Streamed text of a model call made by a node.
    case textDelta(node: String, branch: Int?, text: String)
    /// A node returned its update.
    case nodeFinished(node: String, branch: Int?, update: StateUpdate)
    /// A node's attempt threw; `willRetry` says whether it runs again.
    case nodeFailed(node: String, branch: Int?, attempt: Int, error: String, willRetry: Bool)
    /// A node asked a person (``NodeContext/interrupt(_:as:)``), or the run stops before or after
    /// nodes: the run waits for the signal `id`.
    case interrupted(id: String, node: String?, value: JSONValue?)
    /// Super-step `index` is journaled (or, with `replayed`, was taken from the journal): the nodes
    /// that ran, where the graph goes next, and the state after it.
    case superStepFinished(index: Int, nodes: [String], next: [String], state: JSONValue, replayed: Bool)
    /// The state was edited by a person (at an interrupt, or in a fork).
    case stateEdited(JSONValue)
}

/// How a graph run ended.
public enum GraphOutcome: String, Sendable, Hashable, Codable {
    /// Every path reached ``END``.
    case finished
    /// The run took as many super-steps as ``GraphOptions/recursionLimit`` allows and stopped
    /// with the state it had.
    case recursionLimitReached = "recursion_limit_reached"
    /// The run's deadline passed; the graph stopped between super-steps with the state it had.
    case deadlineReached = "deadline_reached"
}

/// The end of a graph run: the state, how it ended and after how many super-steps.
public struct GraphResult<State: Codable & Sendable>: Sendable, Codable {
    public var state: State
    public var outcome: GraphOutcome
    public var superSteps: Int

    public init(state: State, outcome: GraphOutcome, superSteps: Int) {
        self.state = state
        self.outcome = outcome
        self.superSteps = superSteps
    }
}

/// What the journal keeps of one super-step: each node's update (not the whole state) and the
/// tasks of the next super-step; every ``GraphOptions/snapshotEvery`` super-steps also the whole
/// state.
struct SuperStepRecord: Sendable, Codable, Hashable {
    struct NodeUpdate: Sendable, Codable, Hashable {
        var node: String
        var branch: Int?
        var update: StateUpdate
    }

    struct Task: Sendable, Codable, Hashable {
        var node: String
        var input: JSONValue?
    }

    /// The nodes that ran, in the order their updates were applied.
    var ran: [String]
    /// The non-empty updates, in the order they were applied.
    var updates: [NodeUpdate]
    var next: [Task]
    /// The whole state after this super-step, in a snapshot.
    var state: JSONValue?
}
