import Foundation
import KeelCore

/// One thing to write in the audit log: a policy decision, an approval, or a tool call.
public struct AuditRecord: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable {
        case policy, approval, call
    }

    public var runID: String?
    /// The journal position of the step it concerns.
    public var step: Int?
    public var tool: String?
    public var action: Action
    /// The SHA-256 of the call's arguments as canonical JSON (the arguments themselves are not
    /// logged).
    public var argumentsDigest: String?
    /// What was decided: `allowed`, `refused: …`, `needs approval: …`, `approved`, `denied: …`,
    /// `ok`, `error: …`.
    public var decision: String
    /// Who decided: `policy`, a person, or `agent` for calls.
    public var actor: String
    /// What happened when the call ran, if it did.
    public var outcome: String?
    public var costUSD: Double?

    public init(
        runID: String?, step: Int?, tool: String?, action: Action, argumentsDigest: String?, decision: String, actor: String,
        outcome: String? = nil, costUSD: Double? = nil
    ) {
        self.runID = runID
        self.step = step
        self.tool = tool
        self.action = action
        self.argumentsDigest = argumentsDigest
        self.decision = decision
        self.actor = actor
        self.outcome = outcome
        self.costUSD = costUSD
    }

    /// The digest of argument text: canonical JSON when it is JSON, the text as it is otherwise.
    public static func digest(ofArguments arguments: String) -> String {
        SHA256.hexDigest((try? JSONValue(parsing: arguments))?.serialized() ?? arguments)
    }
}

/// An audit record as written: its place in the chain, its time and its hashes.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var sequence: Int
    public var time: Date
    public var record: AuditRecord
    /// The previous entry's hash (64 zeros for the first).
    public var previousHash: String
    /// SHA-256 of the previous hash and this entry's canonical content.
    public var hash: String

    public init(sequence: Int, time: Date, record: AuditRecord, previousHash: String, hash: String) {
        self.sequence = sequence
        self.time = time
        self.record = record
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash an entry with these fields must have. Time is taken in whole microseconds, as the
    /// stores keep it.
    public static func hash(sequence: Int, time: Date, record: AuditRecord, previousHash: String) -> String {
        let micros = Int64((time.timeIntervalSince1970 * 1_000_000).rounded())
        let canonical: JSONValue = [
            "sequence": .number(Double(sequence)), "time": .string(String(micros)), "run": record.runID.map(JSONValue.string) ?? .null,
            "step": record.step.map { .number(Double($0)) } ?? .null, "tool": record.tool.map(JSONValue.string) ?? .null,
            "action": .string(record.action.rawValue), "arguments": record.argumentsDigest.map(JSONValue.string) ?? .null,
            "decision": .string(record.decision), "actor": .string(record.actor), "outcome": record.outcome.map(JSONValue.string) ?? .null,
            "cost": record.costUSD.map { .string(String(format: "%.9f", $0)) } ?? .null,
        ]
        return SHA256.hexDigest(previousHash + canonical.serialized())
    }

    /// The hash before the first entry.
    public static let genesis = String(repeating: "0", count: 64)
}

/// The result of checking the audit log's chain.
public struct AuditVerification: Sendable, Hashable, Codable {
    public var entries: Int
    /// The first entry that does not fit the chain (edited, or after a deleted one), if any.
    public var firstBrokenSequence: Int?
    /// What is wrong there.
    public var problem: String?
    /// The hash of the last entry: record it elsewhere to detect a log cut short.
    public var headHash: String

    public var isIntact: Bool { firstBrokenSequence == nil }

    public init(entries: Int, firstBrokenSequence: Int?, problem: String?, headHash: String) {
        self.entries = entries
        self.firstBrokenSequence = firstBrokenSequence
        self.problem = problem
        self.headHash = headHash
    }

    /// Checks a chain of entries in sequence order; `storedHead` is the head hash the store kept
    /// apart from the entries (detects the last entries deleted).
    public static func verify(_ entries: [AuditEntry], storedHead: String?) -> AuditVerification {
        var previous = AuditEntry.genesis
        var expectedSequence = entries.first?.sequence ?? 1
        for entry in entries {
            if entry.sequence != expectedSequence {
                return AuditVerification(entries: entries.count, firstBrokenSequence: entry.sequence, problem: "entry \(expectedSequence) is missing", headHash: previous)
            }
            if entry.previousHash != previous {
                return AuditVerification(entries: entries.count, firstBrokenSequence: entry.sequence, problem: "entry \(entry.sequence) does not follow the entry before it", headHash: previous)
            }
            let expected = AuditEntry.hash(sequence: entry.sequence, time: entry.time, record: entry.record, previousHash: previous)
            if entry.hash != expected {
                return AuditVerification(entries: entries.count, firstBrokenSequence: entry.sequence, problem: "entry \(entry.sequence) was changed after it was written", headHash: previous)
            }
            previous = entry.hash
            expectedSequence += 1
        }
        guard let storedHead else {
            return AuditVerification(
                entries: entries.count, firstBrokenSequence: expectedSequence, problem: "the log's head record is missing (it was deleted)", headHash: previous)
        }
        if storedHead != previous {
            return AuditVerification(entries: entries.count, firstBrokenSequence: expectedSequence, problem: "the log ends before its last recorded entry (entries were deleted from the end)", headHash: previous)
        }
        if entries.first.map({ $0.sequence != 1 }) == true {
            return AuditVerification(entries: entries.count, firstBrokenSequence: 1, problem: "the log's first entries are missing", headHash: previous)
        }
        return AuditVerification(entries: entries.count, firstBrokenSequence: nil, problem: nil, headHash: previous)
    }
}
