import Foundation
import KeelCore

/// One step of a run's journal: its position, name and kind, and — once completed — its result.
///
/// The journal is append-only and holds deltas: a model step holds that reply and its usage, a tool
/// step that tool's result, never the whole state.
public struct JournalEntry: Sendable, Hashable, Codable {
    /// Whether the step's body has finished.
    public enum Status: String, Sendable, Hashable, Codable {
        /// Recorded before a side-effecting body runs; still `started` after a crash means in doubt.
        case started
        /// The result is journaled; replay returns it without running the body.
        case completed
    }

    public var runID: String
    /// The step's position in the run, from 0; unique per run.
    public var sequence: Int
    public var name: String
    public var kind: StepKind
    public var status: Status
    /// The step's result as JSON, once completed.
    public var result: JSONValue?
    /// The key a side-effecting step passes to the systems it changes.
    public var idempotencyKey: String?
    public var isSideEffecting: Bool
    /// How many times the body ran (retries and in-doubt re-runs count).
    public var attempts: Int
    /// The model and tokens of a model step.
    public var metering: StepMetering?
    /// When a sleep step ends.
    public var wakeAt: Date?
    public var startedAt: Date
    public var completedAt: Date?
    /// The scope the step belongs to (``RunContext/scope``): empty for the run's own steps.
    /// ``sequence`` is the step's position within it.
    public var scope: String
    /// The position of the run's own steps at which the step's outermost scope was opened (0 for
    /// the run's own steps): a fork at a position keeps the scopes opened before it.
    public var scopeAnchor: Int

    public init(
        runID: String, sequence: Int, name: String, kind: StepKind, status: Status, result: JSONValue? = nil,
        idempotencyKey: String? = nil, isSideEffecting: Bool = false, attempts: Int = 1, metering: StepMetering? = nil,
        wakeAt: Date? = nil, startedAt: Date, completedAt: Date? = nil, scope: String = "", scopeAnchor: Int = 0
    ) {
        self.scope = scope
        self.scopeAnchor = scopeAnchor
        self.runID = runID
        self.sequence = sequence
        self.name = name
        self.kind = kind
        self.status = status
        self.result = result
        self.idempotencyKey = idempotencyKey
        self.isSideEffecting = isSideEffecting
        self.attempts = attempts
        self.metering = metering
        self.wakeAt = wakeAt
        self.startedAt = startedAt
        self.completedAt = completedAt
    }
}

/// What kind of step an entry records. Safe as a metric label.
public struct StepKind: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A step of workflow code.
    public static let custom = StepKind("step")
    /// A model call.
    public static let model = StepKind("model")
    /// A tool call.
    public static let tool = StepKind("tool")
    /// A durable sleep.
    public static let sleep = StepKind("sleep")
    /// A wait for a signal.
    public static let signal = StepKind("signal")

    public var description: String { rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try String(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try rawValue.encode(to: encoder) }
}

/// The model, tokens and cost of a model step, kept with it in the journal so that costs are
/// correct across crashes.
public struct StepMetering: Sendable, Hashable, Codable {
    /// `provider:name`, such as `openai:gpt-4o-mini`.
    public var model: String
    public var usage: Usage
    /// The cost in US dollars at the prices in force when the step ran, if the model had a price.
    public var costUSD: Double?

    public init(model: String, usage: Usage, costUSD: Double? = nil) {
        self.model = model
        self.usage = usage
        self.costUSD = costUSD
    }

    /// The tokens and dollars against budgets (an unpriced model's cost counts as nothing).
    public var spend: Spend { Spend(tokens: usage.totalTokens, costUSD: costUSD ?? 0) }
}

extension JournalEntry {
    /// The step's address in its run: `research/agent-2/3` in a scope, `3` for the run's own.
    public var address: String { scope.isEmpty ? "\(sequence)" : "\(scope)/\(sequence)" }

    /// Whether a step named `name` is a person's decision on a tool call (an approval).
    public static func isApproval(_ name: String) -> Bool { name.hasPrefix("approval-") }

    /// Where a fork asked to start at `sequence` starts, given the completed entries before it,
    /// newest first. An approval is given for one call of one run: a fork that would keep an
    /// approval without the call it approved starts before the approval, so the call is asked
    /// for again instead of run on the old decision.
    public static func forkPosition(_ sequence: Int, entriesBefore newestFirst: [(sequence: Int, name: String)]) -> Int {
        var position = sequence
        for entry in newestFirst {
            guard isApproval(entry.name) else { break }
            position = entry.sequence
        }
        return position
    }
}

extension JournalEntry {
    /// What a fork of a run at `position` (a position of the run's own steps) keeps of its
    /// completed entries, and the position it really starts at. For store implementations: every
    /// store copies what this returns, so all of them fork alike.
    ///
    /// - The run's own entries before the position are kept — less the approvals at its end
    ///   (``forkPosition(_:entriesBefore:)``): the fork starts before them.
    /// - A scope's entries are kept when the scope was opened before that position, each scope
    ///   less the approvals at its end, for the same reason.
    public static func forked(_ completed: [JournalEntry], at position: Int) -> (position: Int, entries: [JournalEntry]) {
        let done = completed.filter { $0.status == .completed }
        let own = done.filter { $0.scope.isEmpty }.sorted { $0.sequence > $1.sequence }
        let start = forkPosition(position, entriesBefore: own.filter { $0.sequence < position }.map { ($0.sequence, $0.name) })
        var kept = own.filter { $0.sequence < start }
        let scoped = Dictionary(grouping: done.filter { !$0.scope.isEmpty && $0.scopeAnchor < start }, by: \.scope)
        for (_, entries) in scoped {
            let newestFirst = entries.sorted { $0.sequence > $1.sequence }
            let end = forkPosition((newestFirst.first?.sequence ?? 0) + 1, entriesBefore: newestFirst.map { ($0.sequence, $0.name) })
            kept += newestFirst.filter { $0.sequence < end }
        }
        return (start, kept.sorted { ($0.scope, $0.sequence) < ($1.scope, $1.sequence) })
    }
}
