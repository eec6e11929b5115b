import Foundation
import KeelCore

/// The text forms a ``RunStore`` keeps — JSON values, failures, decisions, times — read back with
/// an error that says what is wrong (``StoreError/Code/corrupt``) instead of a crash. For store
/// implementations; KeelSQLite and KeelPostgres use them.
public enum StoreCoding {
    /// Parses stored JSON text; `what` names it in the error.
    public static func json(_ text: String, what: String) throws -> JSONValue {
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw StoreError(.corrupt, "the \(what) in the store is not JSON (\(error.description))")
        }
    }

    /// A failure as stored text.
    public static func encode(_ failure: RunFailure) throws -> String {
        try JSONValue(encoding: failure).serialized()
    }

    /// A stored failure of run `runID`.
    public static func decodeFailure(_ text: String, runID: String) throws -> RunFailure {
        try decode(text, as: RunFailure.self, what: "failure of run '\(runID)'", kind: "a failure record")
    }

    /// A stored decision of approval `id`.
    public static func decodeDecision(_ text: String, approvalID id: String) throws -> ApprovalDecision {
        try decode(text, as: ApprovalDecision.self, what: "decision of approval '\(id)'", kind: "a decision")
    }

    private static func decode<T: Decodable>(_ text: String, as type: T.Type, what: String, kind: String) throws -> T {
        do {
            return try json(text, what: what).decode(as: T.self)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.corrupt, "the \(what) in the store is not \(kind)")
        }
    }

    /// Seconds since 1970 as a date.
    public static func date(_ seconds: Double?) -> Date? {
        seconds.map(Date.init(timeIntervalSince1970:))
    }

    /// A duration in seconds.
    public static func seconds(_ duration: Duration) -> TimeInterval {
        duration.timeInterval
    }
}
