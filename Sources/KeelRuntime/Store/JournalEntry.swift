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

    public init(
        runID: String, sequence: Int, name: String, kind: StepKind, status: Status, result: JSONValue? = nil,
        idempotencyKey: String? = nil, isSideEffecting: Bool = false, attempts: Int = 1, metering: StepMetering? = nil,
        wakeAt: Date? = nil, startedAt: Date, completedAt: Date? = nil
    ) {
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
}

extension JournalEntry {
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
