/// A graph that cannot be compiled or cannot go on: what happened and what to do.
public struct GraphError: Error, Sendable, CustomStringConvertible {
    /// The class of failure. Safe as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The graph's definition is refused by ``StateGraph/compile(_:)`` (``GraphError/problems``
        /// lists every reason).
        public static let invalidGraph = Code("invalid_graph")
        /// A node's update names a field the state does not have, or makes the state undecodable.
        public static let invalidUpdate = Code("invalid_update")
        /// A router returned a node it did not declare among its targets.
        public static let undeclaredTarget = Code("undeclared_target")
        /// The state (the initial one, or one given to resume or fork a run) does not encode as an
        /// object or does not decode as the graph's state.
        public static let invalidState = Code("invalid_state")
        /// A node failed on every attempt it was given.
        public static let nodeFailed = Code("node_failed")
        /// A run holds no super-step of that number (fork, history).
        public static let noSuchSuperStep = Code("no_such_super_step")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// Every reason a definition was refused, one sentence each (``Code/invalidGraph``).
    public var problems: [String]
    /// The node involved, if any.
    public var node: String?

    public init(_ code: Code, _ message: String, problems: [String] = [], node: String? = nil) {
        self.code = code
        self.message = message
        self.problems = problems
        self.node = node
    }

    public var description: String { message }
}
