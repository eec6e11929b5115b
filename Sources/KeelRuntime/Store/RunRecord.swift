import Foundation
import KeelCore

/// Where a run is in its life.
public enum RunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accepted, waiting for a process to run it.
    case pending
    /// A process holds its lease and is running it.
    case running
    /// Waiting for a timer or a signal; no process needs to be alive.
    case waiting
    /// Finished with an output.
    case completed
    /// Stopped by an error; it can be resumed from the step that failed.
    case failed
    /// Cancelled on request.
    case cancelled

    /// Whether the run will not change again without being reopened.
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A run as the store holds it.
public struct RunRecord: Sendable, Hashable, Codable {
    public var id: String
    /// The workflow's name, which says how to resume the run.
    public var workflow: String
    /// The workflow's input.
    public var input: JSONValue
    public var status: RunStatus
    /// The workflow's output, once completed.
    public var output: JSONValue?
    /// Why the run failed, when it did.
    public var failure: RunFailure?
    /// When a waiting run's timer fires.
    public var wakeAt: Date?
    /// The signals a waiting run waits for (any one of them wakes it).
    public var waitingFor: [String]
    /// The process holding the run's lease, while it runs.
    public var owner: String?
    /// When the lease runs out unless renewed.
    public var leaseExpiresAt: Date?
    /// The fencing epoch: it grows with every claim, and a write under an older epoch is refused.
    public var epoch: Int
    /// The run this one was forked from, and the journal position it was forked at.
    public var parentRunID: String?
    public var forkedAt: Int?
    /// The tenant the run's spending counts against.
    public var tenant: String?
    /// When the run must stop; the workflow reads it from ``RunContext/deadline``.
    public var deadline: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, workflow: String, input: JSONValue, status: RunStatus, output: JSONValue? = nil, failure: RunFailure? = nil,
        wakeAt: Date? = nil, waitingFor: [String] = [], owner: String? = nil, leaseExpiresAt: Date? = nil, epoch: Int = 0,
        parentRunID: String? = nil, forkedAt: Int? = nil, tenant: String? = nil, deadline: Date? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.deadline = deadline
        self.id = id
        self.workflow = workflow
        self.input = input
        self.status = status
        self.output = output
        self.failure = failure
        self.wakeAt = wakeAt
        self.waitingFor = waitingFor
        self.owner = owner
        self.leaseExpiresAt = leaseExpiresAt
        self.epoch = epoch
        self.parentRunID = parentRunID
        self.forkedAt = forkedAt
        self.tenant = tenant
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Why a run failed: a code safe as a metric label, a message, and the journal position.
public struct RunFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// The sequence of the step that failed, if a step did.
    public var sequence: Int?
    /// The scope of that step when it was in one (``RunContext/scope``).
    public var scope: String?

    public init(code: String, message: String, sequence: Int? = nil, scope: String? = nil) {
        self.code = code
        self.message = message
        self.sequence = sequence
        self.scope = scope.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The failed step's address: `research/agent-2/3`, or `3` for a step of the run's own.
    public var step: String? {
        sequence.map { sequence in scope.map { "\($0)/\(sequence)" } ?? "\(sequence)" }
    }

    public var description: String {
        (step.map { "step \($0): " } ?? "") + "\(code): \(message)"
    }
}

extension RunFailure {
    /// The failure of a run that was quarantined: `recoveries` workers in a row took it over from
    /// a worker that had stopped without finishing a step, the last of them `owner`.
    public static func quarantined(after recoveries: Int, lastOwner owner: String?) -> RunFailure {
        RunFailure(
            code: "quarantined",
            message: "\(recoveries) workers in a row stopped while running it without finishing a step"
                + (owner.map { " (the last was \($0))" } ?? "")
                + "; it may be what stops them. Find the cause, then retry it with keel dead-letters retry")
    }
}

/// A run to accept.
public struct NewRun: Sendable, Hashable {
    public var id: String
    public var workflow: String
    public var input: JSONValue
    public var tenant: String?
    /// When the run must stop, if ever.
    public var deadline: Date?

    public init(id: String, workflow: String, input: JSONValue, tenant: String? = nil, deadline: Date? = nil) {
        self.id = id
        self.workflow = workflow
        self.input = input
        self.tenant = tenant
        self.deadline = deadline
    }
}

/// Which runs to list.
public struct RunQuery: Sendable, Hashable {
    public var statuses: Set<RunStatus>?
    public var workflow: String?
    public var tenant: String?
    /// The most runs to return, newest first. Default: 100.
    public var limit: Int
    /// Only runs listed after this one (newest first): the next page after a page that ended
    /// with the run this cursor was made from.
    public var after: RunCursor?

    public init(statuses: Set<RunStatus>? = nil, workflow: String? = nil, tenant: String? = nil, limit: Int = 100, after: RunCursor? = nil) {
        self.statuses = statuses
        self.workflow = workflow
        self.tenant = tenant
        self.limit = limit
        self.after = after
    }
}

/// A position in the list of runs, newest first: a run's creation time and id. Stores compare
/// times by `timeIntervalSince1970`, which the token keeps exactly.
public struct RunCursor: Sendable, Hashable {
    public var createdAt: Date
    public var id: String

    public init(createdAt: Date, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    /// The position of `run`.
    public init(_ run: RunRecord) {
        self.init(createdAt: run.createdAt, id: run.id)
    }

    /// The cursor as opaque text for a client (the time's exact bits, then the id).
    public var token: String { String(createdAt.timeIntervalSince1970.bitPattern, radix: 16) + "." + id }

    /// A cursor from its ``token``; `nil` for text that is not one.
    public init?(token: String) {
        guard let dot = token.firstIndex(of: "."), let bits = UInt64(token[..<dot], radix: 16) else { return nil }
        let seconds = Double(bitPattern: bits)
        guard seconds.isFinite else { return nil }
        self.init(createdAt: Date(timeIntervalSince1970: seconds), id: String(token[token.index(after: dot)...]))
    }
}
