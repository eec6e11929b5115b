import Foundation
import KeelCore
import KeelRuntime

/// Approvals and audit entries as tables, lines and JSON.
enum ApprovalReport {
    /// What `keel agent` prints for an approval its run waits for.
    static func waitingLine(_ record: ApprovalRecord) -> String {
        "approval \(record.request.id) waits: \(record.request.tool) \(argumentsText(record.request.arguments, limit: 200)) — \(record.request.reason)"
    }

    static func argumentsText(_ arguments: String, limit: Int) -> String {
        let compact = (try? JSONValue(parsing: arguments).serialized()) ?? arguments
        return compact.count > limit ? String(compact.prefix(limit - 1)) + "…" : compact
    }

    static func decisionText(_ record: ApprovalRecord) -> String {
        switch record.decision {
        case .approve?: "approved"
        case .approveWithArguments(let arguments)?: "approved with \(argumentsText(arguments, limit: 60))"
        case .deny(let reason)?: "denied: \(reason)"
        case nil: record.status == .expired ? "timed out" : ""
        }
    }

    static func table(_ records: [ApprovalRecord]) -> String {
        let rows = records.map { record in
            [
                record.request.id, record.status.rawValue, record.request.tool, argumentsText(record.request.arguments, limit: 60),
                record.decidedBy.map { "\(decisionText(record)) (\($0))" } ?? record.request.reason,
            ]
        }
        return RunReport.format([["ID", "STATUS", "TOOL", "ARGUMENTS", "DECISION / REASON"]] + rows)
    }

    static func json(_ record: ApprovalRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(record.request.id), "kind": .string(record.request.kind.rawValue), "run": .string(record.request.runID),
            "step": .number(Double(record.request.sequence)), "tool": .string(record.request.tool),
            "arguments": (try? JSONValue(parsing: record.request.arguments)) ?? .string(record.request.arguments),
            "reason": .string(record.request.reason), "status": .string(record.status.rawValue),
            "requested_at": .string(record.request.requestedAt.formatted(.iso8601)), "on_timeout": .string(record.request.onTimeout.rawValue),
        ]
        if let expires = record.request.expiresAt { object["expires_at"] = .string(expires.formatted(.iso8601)) }
        if let decidedBy = record.decidedBy { object["decided_by"] = .string(decidedBy) }
        if let decidedAt = record.decidedAt { object["decided_at"] = .string(decidedAt.formatted(.iso8601)) }
        switch record.decision {
        case .approve?: object["decision"] = "approve"
        case .approveWithArguments(let arguments)?:
            object["decision"] = "approve"
            object["edited_arguments"] = (try? JSONValue(parsing: arguments)) ?? .string(arguments)
        case .deny(let reason)?:
            object["decision"] = "deny"
            object["denial_reason"] = .string(reason)
        case nil: break
        }
        return .object(object)
    }

    static func auditTable(_ entries: [AuditEntry]) -> String {
        let rows = entries.map { entry in
            [
                String(entry.sequence), entry.time.formatted(.iso8601), entry.record.runID ?? "", entry.record.step.map(String.init) ?? "",
                entry.record.tool ?? "", entry.record.action.rawValue, entry.record.decision, entry.record.actor, entry.record.outcome ?? "",
                entry.record.costUSD.map { String(format: "$%.4f", $0) } ?? "",
            ]
        }
        return RunReport.format([["SEQ", "TIME", "RUN", "STEP", "TOOL", "ACTION", "DECISION", "WHO", "OUTCOME", "COST"]] + rows)
    }

    static func auditJSON(_ entry: AuditEntry) -> JSONValue {
        var object: [String: JSONValue] = [
            "sequence": .number(Double(entry.sequence)), "time": .string(entry.time.formatted(.iso8601)), "action": .string(entry.record.action.rawValue),
            "decision": .string(entry.record.decision), "actor": .string(entry.record.actor), "hash": .string(entry.hash),
            "previous_hash": .string(entry.previousHash),
        ]
        if let run = entry.record.runID { object["run"] = .string(run) }
        if let step = entry.record.step { object["step"] = .number(Double(step)) }
        if let tool = entry.record.tool { object["tool"] = .string(tool) }
        if let digest = entry.record.argumentsDigest { object["arguments_sha256"] = .string(digest) }
        if let outcome = entry.record.outcome { object["outcome"] = .string(outcome) }
        if let cost = entry.record.costUSD { object["cost_usd"] = .number(cost) }
        return .object(object)
    }
}
