import Foundation
import GRDB
import KeelCore
import KeelRuntime

extension SQLiteRunStore {
    public func requestApproval(_ request: ApprovalRequest, lease: Lease) async throws -> ApprovalRecord {
        try await write { db in
            try Self.checkLease(db, lease)
            try db.execute(
                sql: """
                    INSERT INTO approvals (id, run_id, sequence, kind, tool, arguments, reason, requested_at, expires_at, on_timeout, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (id) DO NOTHING
                    """,
                arguments: [
                    request.id, request.runID, request.sequence, request.kind.rawValue, request.tool, request.arguments, request.reason,
                    request.requestedAt.timeIntervalSince1970, request.expiresAt?.timeIntervalSince1970, request.onTimeout.rawValue,
                ])
            guard let record = try Self.fetchApproval(db, id: request.id) else { throw StoreError(.notFound, "no approval '\(request.id)'") }
            return record
        }
    }

    public func approval(id: String) async throws -> ApprovalRecord? {
        try await read { db in try Self.fetchApproval(db, id: id) }
    }

    public func approvals(runID: String?, status: ApprovalStatus?) async throws -> [ApprovalRecord] {
        try await read { db in
            let (whereClause, arguments) = Self.matching(["run_id": runID, "status": status?.rawValue])
            return try Row.fetchAll(db, sql: "SELECT * FROM approvals \(whereClause) ORDER BY requested_at, id", arguments: arguments).map(Self.decodeApproval)
        }
    }

    public func decideApproval(id: String, decision: ApprovalDecision, by: String) async throws -> ApprovalRecord {
        let key = auditKey
        return try await write { db in
            guard let record = try Self.fetchApproval(db, id: id) else { throw StoreError(.notFound, "no approval '\(id)'") }
            let decided = try StoreRules.decide(record, with: decision, by: by, at: Date())
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: "UPDATE approvals SET status = ?, decision = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                arguments: [decided.status.rawValue, try JSONValue(encoding: decision).serialized(), by, now, id])
            try Self.appendAudit(db, [record.auditRecord(deciding: decision, by: by)], key: key)
            // Wake the run if it waits for this decision.
            if let run = try Self.fetchRun(db, id: record.request.runID), StoreRules.wakes(run, onDecisionOf: id) {
                try db.execute(sql: "UPDATE runs SET status = 'pending', updated_at = ? WHERE id = ?", arguments: [now, run.id])
            }
            guard let decided = try Self.fetchApproval(db, id: id) else { throw StoreError(.notFound, "no approval '\(id)'") }
            return decided
        }
    }

    @discardableResult
    public func closeApproval(id: String, as status: ApprovalStatus, lease: Lease) async throws -> ApprovalRecord {
        try StoreRules.checkClosing(as: status)
        return try await write { db in
            try Self.checkLease(db, lease)
            try db.execute(
                sql: "UPDATE approvals SET status = ?, expires_at = CASE WHEN ? = 'escalated' THEN NULL ELSE expires_at END WHERE id = ? AND status IN ('pending', 'escalated')",
                arguments: [status.rawValue, status.rawValue, id])
            guard let record = try Self.fetchApproval(db, id: id) else { throw StoreError(.notFound, "no approval '\(id)'") }
            return record
        }
    }

    public func appendAudit(_ records: [AuditRecord]) async throws {
        let key = auditKey
        try await write { db in try Self.appendAudit(db, records, key: key) }
    }

    public func auditLog(runID: String?, tool: String?, limit: Int?) async throws -> [AuditEntry] {
        try await read { db in
            let (whereClause, arguments) = Self.matching(["run_id": runID, "tool": tool])
            let limitClause = limit.map { " LIMIT \($0)" } ?? ""
            return try Row.fetchAll(db, sql: "SELECT * FROM audit \(whereClause) ORDER BY sequence\(limitClause)", arguments: arguments).map(Self.decodeAudit)
        }
    }

    public func verifyAuditLog() async throws -> AuditVerification {
        let key = auditKey
        return try await read { db in
            let entries = try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY sequence").map(Self.decodeAudit)
            let head: String? = try String.fetchOne(db, sql: "SELECT hash FROM audit_head WHERE id = 1")
            return AuditVerification.verify(entries, storedHead: head, key: key)
        }
    }

    public func consumeQuota(_ key: String, limit: Int) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO quotas (key, used) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET used = used + 1 WHERE used < ?",
                arguments: [key, limit])
            return db.changesCount == 1 && limit > 0
        }
    }

    // MARK: Rows

    /// Appends records to the chain: each entry's hash covers the previous entry's hash.
    static func appendAudit(_ db: Database, _ records: [AuditRecord], key: AuditKey?) throws {
        let head = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_head WHERE id = 1")
        var last: (sequence: Int, hash: String)?
        if let head {
            let column = Columns(head, in: "audit_head")
            last = (try column("sequence"), try column("hash"))
        }
        let entries = StoreRules.chain(records, after: last, at: Date(), key: key)
        for entry in entries {
            let record = entry.record
            try db.execute(
                sql: """
                    INSERT INTO audit (sequence, time_us, run_id, step, tool, action, arguments_digest, decision, actor, outcome, cost_usd, previous_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    entry.sequence, StoreRules.microseconds(entry.time), record.runID, record.step, record.tool, record.action.rawValue,
                    record.argumentsDigest, record.decision, record.actor, record.outcome, record.costUSD, entry.previousHash, entry.hash,
                ])
        }
        let newHead = entries.last.map { ($0.sequence, $0.hash) } ?? last ?? (0, AuditEntry.genesis)
        try db.execute(
            sql: "INSERT INTO audit_head (id, sequence, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash",
            arguments: [newHead.0, newHead.1])
    }

    static func decodeAudit(_ row: Row) throws -> AuditEntry {
        let column = Columns(row, in: "audit_log")
        let sequence: Int = try column("sequence")
        guard let action = try AuditRecord.Action(rawValue: column("action")) else {
            throw StoreError(.corrupt, "audit entry \(sequence) has an unknown action")
        }
        let micros: Int64 = try column("time_us")
        let record = try AuditRecord(
            runID: column("run_id"), step: column("step"), tool: column("tool"), action: action, argumentsDigest: column("arguments_digest"),
            decision: column("decision"), actor: column("actor"), outcome: column("outcome"), costUSD: column("cost_usd"))
        return try AuditEntry(
            sequence: sequence, time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), record: record, previousHash: column("previous_hash"),
            hash: column("hash"))
    }

    static func fetchApproval(_ db: Database, id: String) throws -> ApprovalRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM approvals WHERE id = ?", arguments: [id]).map(decodeApproval)
    }

    static func decodeApproval(_ row: Row) throws -> ApprovalRecord {
        let column = Columns(row, in: "approvals")
        let id: String = try column("id")
        guard let kind = try ApprovalRequest.Kind(rawValue: column("kind")), let status = try ApprovalStatus(rawValue: column("status")),
            let onTimeout = try ApprovalTimeoutPolicy(rawValue: column("on_timeout"))
        else { throw StoreError(.corrupt, "approval '\(id)' has an unknown kind, status or timeout policy") }
        let decisionText: String? = try column("decision")
        let decision = try decisionText.map { try StoreCoding.decodeDecision($0, approvalID: id) }
        let request = try ApprovalRequest(
            id: id, kind: kind, runID: column("run_id"), sequence: column("sequence"), tool: column("tool"), arguments: column("arguments"), reason: column("reason"),
            requestedAt: date(column("requested_at")) ?? Date(timeIntervalSince1970: 0), expiresAt: date(column("expires_at")), onTimeout: onTimeout)
        return try ApprovalRecord(request: request, status: status, decision: decision, decidedBy: column("decided_by"), decidedAt: date(column("decided_at")))
    }

    /// A `WHERE` clause requiring each column given a value to equal it (none: no clause).
    static func matching(_ columns: KeyValuePairs<String, String?>) -> (String, StatementArguments) {
        let given = columns.compactMap { column, value in value.map { (column, $0) } }
        guard !given.isEmpty else { return ("", []) }
        return ("WHERE " + given.map { "\($0.0) = ?" }.joined(separator: " AND "), StatementArguments(given.map { $0.1 }))
    }
}
