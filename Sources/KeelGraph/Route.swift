import KeelCore
import KeelRuntime

/// The name of the graph's entry: edges from `START` say which nodes run first.
public let START = "__start__"
/// The name of the graph's exit: a route to `END` ends that path.
public let END = "__end__"

/// Where a router sends the graph next: a node (or ``END``), or a ``send(_:_:)`` that runs a node
/// as one branch of a fan-out with an input of its own.
public struct Route: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The node to run, or ``END``.
    public let node: String
    /// The branch's own input, for a ``send(_:_:)``.
    public let input: JSONValue?

    /// A route to `node`.
    public init(_ node: String) {
        self.node = node
        input = nil
    }

    public init(stringLiteral node: String) { self.init(node) }

    /// A route to `node`.
    public static func to(_ node: String) -> Route { Route(node) }

    /// The end of this path.
    public static let end = Route(END)

    /// One branch of a fan-out (LangGraph's `Send`): `node` runs once per send in the next
    /// super-step, each with its own `input` (``NodeContext/input(as:)``), and their updates
    /// join through the reducers.
    public static func send(_ node: String, _ input: some Encodable) throws -> Route {
        Route(node: node, input: try JSONValue(encoding: input))
    }

    init(node: String, input: JSONValue?) {
        self.node = node
        self.input = input
    }

    public var description: String { input == nil ? node : "send(\(node))" }
}

/// How often a node that throws is run again, within one execution of the run, before the
/// super-step fails. A resumed run gives a failed node this many attempts again.
public struct NodeRetry: Sendable {
    /// Attempts in one execution, the first included. Default 1 (no retry).
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles for each attempt after. Default 100 ms.
    public var backoff: Duration
    /// Whether an error is worth another attempt. Default: every error except a wait, a
    /// cancellation, a budget stop and a ``KeelRuntime/WorkflowError``.
    public var retryIf: @Sendable (any Error) -> Bool

    public init(maxAttempts: Int = 1, backoff: Duration = .milliseconds(100), retryIf: @escaping @Sendable (any Error) -> Bool = NodeRetry.isRetryable) {
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
        self.retryIf = retryIf
    }

    /// One attempt.
    public static let none = NodeRetry()

    /// Up to `attempts` attempts with the default backoff.
    public static func attempts(_ attempts: Int) -> NodeRetry { NodeRetry(maxAttempts: attempts) }

    /// The default test: every error except the ones another attempt cannot cure.
    public static let isRetryable: @Sendable (any Error) -> Bool = NodeRetryDefaults.isRetryable
}

/// The errors a node retry leaves alone.
enum NodeRetryDefaults {
    static let isRetryable: @Sendable (any Error) -> Bool = { error in
        !(error is CancellationError || error is GraphError || error is RunSuspension || error is WorkflowError || error is BudgetExceeded
            || error is StoreError)
    }
}

/// Settings of a compiled graph.
public struct GraphOptions: Sendable {
    /// The most super-steps a run may take before it stops with
    /// ``GraphOutcome/recursionLimitReached``. Default 25.
    public var recursionLimit = 25
    /// Every how many super-steps the journal keeps the whole state, so that a resumed run
    /// rebuilds its state from the latest snapshot rather than from every update. Default 10.
    public var snapshotEvery = 10
    /// The most nodes of one super-step that run at once. Default 8.
    public var maxConcurrency = 8

    public init(recursionLimit: Int = 25, snapshotEvery: Int = 10, maxConcurrency: Int = 8) {
        self.recursionLimit = recursionLimit
        self.snapshotEvery = snapshotEvery
        self.maxConcurrency = maxConcurrency
    }
}
