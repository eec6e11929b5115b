import Crypto
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
    /// SHA-256 of the previous hash and this entry's canonical content (HMAC-SHA256 under the
    /// store's ``AuditKey``, when it has one).
    public var hash: String

    public init(sequence: Int, time: Date, record: AuditRecord, previousHash: String, hash: String) {
        self.sequence = sequence
        self.time = time
        self.record = record
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash an entry with these fields must have. Time is taken in whole microseconds, as the
    /// stores keep it. With a `key`, the hash is an HMAC-SHA256 under it: a writer without the key
    /// cannot rebuild the chain after changing an entry.
    public static func hash(sequence: Int, time: Date, record: AuditRecord, previousHash: String, key: AuditKey? = nil) -> String {
        let micros = Int64((time.timeIntervalSince1970 * 1_000_000).rounded())
        let canonical: JSONValue = [
            "sequence": .number(Double(sequence)), "time": .string(String(micros)), "run": record.runID.map(JSONValue.string) ?? .null,
            "step": record.step.map { .number(Double($0)) } ?? .null, "tool": record.tool.map(JSONValue.string) ?? .null,
            "action": .string(record.action.rawValue), "arguments": record.argumentsDigest.map(JSONValue.string) ?? .null,
            "decision": .string(record.decision), "actor": .string(record.actor), "outcome": record.outcome.map(JSONValue.string) ?? .null,
            "cost": record.costUSD.map { .string(String(format: "%.9f", $0)) } ?? .null,
        ]
        let message = previousHash + canonical.serialized()
        guard let key else { return KeelCore.SHA256.hexDigest(message) }
        return key.authenticationCode(for: message)
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
    /// apart from the entries (detects the last entries deleted). A log written with an
    /// ``AuditKey`` verifies only with the same key.
    public static func verify(_ entries: [AuditEntry], storedHead: String?, key: AuditKey? = nil) -> AuditVerification {
        var previous = AuditEntry.genesis
        var expectedSequence = entries.first?.sequence ?? 1
        for entry in entries {
            if entry.sequence != expectedSequence {
                return AuditVerification(entries: entries.count, firstBrokenSequence: entry.sequence, problem: "entry \(expectedSequence) is missing", headHash: previous)
            }
            if entry.previousHash != previous {
                return AuditVerification(entries: entries.count, firstBrokenSequence: entry.sequence, problem: "entry \(entry.sequence) does not follow the entry before it", headHash: previous)
            }
            let expected = AuditEntry.hash(sequence: entry.sequence, time: entry.time, record: entry.record, previousHash: previous, key: key)
            if entry.hash != expected {
                // At the first entry, the likelier cause is a key that is not the one the log was written with.
                let hint = entry.sequence == 1 ? " (or the log was written with another audit key than this check's: KEEL_AUDIT_KEY)" : ""
                return AuditVerification(
                    entries: entries.count, firstBrokenSequence: entry.sequence, problem: "entry \(entry.sequence) was changed after it was written" + hint,
                    headHash: previous)
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

/// The secret key of a keyed audit chain. With it, each entry's hash is an HMAC-SHA256 of the
/// previous hash and the entry, so a writer who can change the database but does not hold the key
/// cannot rewrite an entry and rebuild the chain after it. Keep it out of the database: in the
/// workers' environment (`KEEL_AUDIT_KEY`) or a secret store. Set it before the first entry is
/// written; a log verifies only with the key it was written with.
public struct AuditKey: Sendable {
    private let key: SymmetricKey

    /// A key from a secret of at least 16 bytes (a random 32-byte value, hex or base64, is usual).
    public init(secret: String) throws {
        let bytes = Array(secret.utf8)
        guard bytes.count >= 16 else {
            throw AuditKeyError(description: "an audit key needs at least 16 bytes; this one has \(bytes.count)")
        }
        key = SymmetricKey(data: bytes)
    }

    /// The key in `KEEL_AUDIT_KEY`, or `nil` when it is not set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AuditKey? {
        guard let secret = environment["KEEL_AUDIT_KEY"], !secret.isEmpty else { return nil }
        do {
            return try AuditKey(secret: secret)
        } catch let error as AuditKeyError {
            throw AuditKeyError(description: "KEEL_AUDIT_KEY: \(error.description)")
        }
    }

    /// The HMAC-SHA256 of `message` under this key, as lowercase hex.
    func authenticationCode(for message: String) -> String {
        HMAC<Crypto.SHA256>.authenticationCode(for: Array(message.utf8), using: key).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// An audit key that cannot be used.
public struct AuditKeyError: Error, Sendable, CustomStringConvertible {
    public let description: String
}
