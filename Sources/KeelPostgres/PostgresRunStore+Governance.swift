import Foundation
import KeelCore
import KeelRuntime
import Logging
import PostgresNIO

extension PostgresRunStore {
    // MARK: Approvals

    public func requestApproval(_ request: ApprovalRequest, lease: Lease) async throws -> ApprovalRecord {
        let logger = self.logger
        return try await write { connection in
            try await Self.fence(connection, lease, logger: logger)
            try await connection.rows(
                """
                INSERT INTO keel_approvals (id, run_id, sequence, kind, tool, arguments, reason, requested_at, expires_at, on_timeout, status)
                VALUES (\(request.id), \(request.runID), \(request.sequence), \(request.kind.rawValue), \(request.tool), \(request.arguments),
                    \(request.reason), \(request.requestedAt.timeIntervalSince1970), \(request.expiresAt?.timeIntervalSince1970),
                    \(request.onTimeout.rawValue), 'pending')
                ON CONFLICT (id) DO NOTHING
                """, logger: logger)
            guard let record = try await Self.fetchApproval(connection, id: request.id, lock: false, logger: logger) else {
                throw StoreError(.notFound, "no approval '\(request.id)'")
            }
            return record
        }
    }

    public func approval(id: String) async throws -> ApprovalRecord? {
        let logger = self.logger
        return try await read { connection in try await Self.fetchApproval(connection, id: id, lock: false, logger: logger) }
    }

    public func approvals(runID: String?, status: ApprovalStatus?) async throws -> [ApprovalRecord] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM keel_approvals
                WHERE (\(runID == nil) OR run_id = \(runID ?? "")) AND (\(status == nil) OR status = \(status?.rawValue ?? ""))
                ORDER BY requested_at, id
                """, logger: logger
            ).map(Self.decodeApproval)
        }
    }

    public func decideApproval(id: String, decision: ApprovalDecision, by: String) async throws -> ApprovalRecord {
        let logger = self.logger
        let key = configuration.auditKey
        return try await write { connection in
            guard let record = try await Self.fetchApproval(connection, id: id, lock: true, logger: logger) else {
                throw StoreError(.notFound, "no approval '\(id)'")
            }
            let status = try StoreRules.decide(record, with: decision, by: by, at: Date()).status
            let now = Date().timeIntervalSince1970
            try await connection.rows(
                """
                UPDATE keel_approvals SET status = \(status.rawValue), decision = \(try JSONValue(encoding: decision).serialized()),
                    decided_by = \(by), decided_at = \(now) WHERE id = \(id)
                """, logger: logger)
            try await Self.appendAudit(connection, [record.auditRecord(deciding: decision, by: by)], key: key, logger: logger)
            // Wake the run if it waits for this decision (StoreRules.wakes, in SQL).
            try await connection.rows(
                """
                UPDATE keel_runs SET status = 'pending', updated_at = \(now)
                WHERE id = \(record.request.runID) AND status = 'waiting' AND waiting_for IS NOT NULL
                  AND waiting_for::jsonb ? \(ApprovalRecord.signalName(for: id))
                """, logger: logger)
            guard let decided = try await Self.fetchApproval(connection, id: id, lock: false, logger: logger) else {
                throw StoreError(.notFound, "no approval '\(id)'")
            }
            return decided
        }
    }

    @discardableResult
    public func closeApproval(id: String, as status: ApprovalStatus, lease: Lease) async throws -> ApprovalRecord {
        try StoreRules.checkClosing(as: status)
        let logger = self.logger
        return try await write { connection in
            try await Self.fence(connection, lease, logger: logger)
            try await connection.rows(
                """
                UPDATE keel_approvals SET status = \(status.rawValue),
                    expires_at = CASE WHEN \(status.rawValue) = 'escalated' THEN NULL ELSE expires_at END
                WHERE id = \(id) AND status IN ('pending', 'escalated')
                """, logger: logger)
            guard let record = try await Self.fetchApproval(connection, id: id, lock: false, logger: logger) else {
                throw StoreError(.notFound, "no approval '\(id)'")
            }
            return record
        }
    }

    // MARK: Audit

    public func appendAudit(_ records: [AuditRecord]) async throws {
        let logger = self.logger
        let key = configuration.auditKey
        try await write { connection in try await Self.appendAudit(connection, records, key: key, logger: logger) }
    }

    public func auditLog(runID: String?, tool: String?, limit: Int?) async throws -> [AuditEntry] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM keel_audit
                WHERE (\(runID == nil) OR run_id = \(runID ?? "")) AND (\(tool == nil) OR tool = \(tool ?? ""))
                ORDER BY sequence LIMIT \(limit ?? Int(Int32.max))
                """, logger: logger
            ).map(Self.decodeAudit)
        }
    }

    public func verifyAuditLog() async throws -> AuditVerification {
        let logger = self.logger
        let key = configuration.auditKey
        return try await write { connection in
            // One snapshot for the entries and the head: read in two statements under READ
            // COMMITTED, an append between them looked like tampering.
            try await connection.rows("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            let entries = try await connection.rows("SELECT * FROM keel_audit ORDER BY sequence", logger: logger).map(Self.decodeAudit)
            let head = try await connection.rows("SELECT hash FROM keel_audit_head WHERE id = 1", logger: logger)
            return AuditVerification.verify(entries, storedHead: try head.first.map { try Columns($0)("hash") }, key: key)
        }
    }

    /// Serializes appends to the audit chain across workers.
    static let auditLock: Int64 = 0x6B65_656C_0002

    /// Appends records to the chain: each entry's hash covers the previous entry's hash.
    static func appendAudit(_ connection: PostgresConnection, _ records: [AuditRecord], key: AuditKey?, logger: Logger) async throws {
        try await connection.rows("SELECT pg_advisory_xact_lock(\(auditLock))", logger: logger)
        let head = try await connection.rows("SELECT sequence, hash FROM keel_audit_head WHERE id = 1", logger: logger).first.map(Columns.init)
        var last: (sequence: Int, hash: String)?
        if let head { last = (try head("sequence"), try head("hash")) }
        let entries = StoreRules.chain(records, after: last, at: Date(), key: key)
        for entry in entries {
            let record = entry.record
            try await connection.rows(
                """
                INSERT INTO keel_audit (sequence, time_us, run_id, step, tool, action, arguments_digest, decision, actor, outcome, cost_usd, previous_hash, hash)
                VALUES (\(entry.sequence), \(StoreRules.microseconds(entry.time)), \(record.runID), \(record.step), \(record.tool), \(record.action.rawValue),
                    \(record.argumentsDigest), \(record.decision), \(record.actor), \(record.outcome), \(record.costUSD), \(entry.previousHash), \(entry.hash))
                """, logger: logger)
        }
        let (sequence, previous) = entries.last.map { ($0.sequence, $0.hash) } ?? last ?? (0, AuditEntry.genesis)
        try await connection.rows(
            """
            INSERT INTO keel_audit_head (id, sequence, hash) VALUES (1, \(sequence), \(previous))
            ON CONFLICT (id) DO UPDATE SET sequence = EXCLUDED.sequence, hash = EXCLUDED.hash
            """, logger: logger)
    }

    static func decodeAudit(_ row: PostgresRow) throws -> AuditEntry {
        let columns = Columns(row)
        let sequence: Int = try columns("sequence")
        guard let action = AuditRecord.Action(rawValue: try columns("action")) else {
            throw StoreError(.corrupt, "audit entry \(sequence) has an unknown action")
        }
        let micros: Int64 = try columns("time_us")
        let record = AuditRecord(
            runID: try columns("run_id"), step: try columns("step"), tool: try columns("tool"), action: action,
            argumentsDigest: try columns("arguments_digest"), decision: try columns("decision"), actor: try columns("actor"),
            outcome: try columns("outcome"), costUSD: try columns("cost_usd"))
        return AuditEntry(
            sequence: sequence, time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), record: record,
            previousHash: try columns("previous_hash"), hash: try columns("hash"))
    }

    static func fetchApproval(_ connection: PostgresConnection, id: String, lock: Bool, logger: Logger) async throws -> ApprovalRecord? {
        try await connection.rows("SELECT * FROM keel_approvals WHERE id = \(id) \(unescaped: lock ? "FOR UPDATE" : "")", logger: logger)
            .first.map(decodeApproval)
    }

    static func decodeApproval(_ row: PostgresRow) throws -> ApprovalRecord {
        let columns = Columns(row)
        let id: String = try columns("id")
        guard let kind = ApprovalRequest.Kind(rawValue: try columns("kind")), let status = ApprovalStatus(rawValue: try columns("status")),
            let onTimeout = ApprovalTimeoutPolicy(rawValue: try columns("on_timeout"))
        else { throw StoreError(.corrupt, "approval '\(id)' has an unknown kind, status or timeout policy") }
        let decisionText: String? = try columns("decision")
        let decision = try decisionText.map { try StoreCoding.decodeDecision($0, approvalID: id) }
        let request = ApprovalRequest(
            id: id, kind: kind, runID: try columns("run_id"), sequence: try columns("sequence"), tool: try columns("tool"),
            arguments: try columns("arguments"), reason: try columns("reason"),
            requestedAt: date(try columns("requested_at")) ?? Date(timeIntervalSince1970: 0), expiresAt: date(try columns("expires_at")),
            onTimeout: onTimeout)
        return ApprovalRecord(
            request: request, status: status, decision: decision, decidedBy: try columns("decided_by"), decidedAt: date(try columns("decided_at")))
    }

    // MARK: Dead letters and costs

    public func deadLetters(includeResolved: Bool, limit: Int) async throws -> [DeadLetter] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT d.*, r.workflow, r.tenant FROM keel_dead_letters d JOIN keel_runs r ON r.id = d.run_id
                WHERE \(includeResolved) OR d.resolved_at IS NULL ORDER BY d.created_at DESC LIMIT \(limit)
                """, logger: logger
            ).map { row in
                let columns = Columns(row)
                let runID: String = try columns("run_id")
                return DeadLetter(
                    runID: runID, workflow: try columns("workflow"), tenant: try columns("tenant"),
                    failure: try Self.decodeFailure(try columns("failure"), runID: runID), journalLength: try columns("journal_length"),
                    createdAt: Self.date(try columns("created_at")) ?? Date(timeIntervalSince1970: 0), resolvedAt: Self.date(try columns("resolved_at")))
            }
        }
    }

    public func costs(_ query: CostQuery) async throws -> [CostRow] {
        let logger = self.logger
        let key: String
        switch query.groupBy {
        case .run: key = "j.run_id"
        case .model: key = "j.model"
        case .tenant: key = "COALESCE(r.tenant, '-')"
        case .day: key = "to_char(to_timestamp(j.completed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
        return try await read { connection in
            try await connection.rows(
                """
                SELECT \(unescaped: key) AS key, COUNT(*) AS steps, COALESCE(SUM(j.input_tokens), 0)::BIGINT AS input,
                    COALESCE(SUM(j.cached_input_tokens), 0)::BIGINT AS cached, COALESCE(SUM(j.output_tokens), 0)::BIGINT AS output,
                    COALESCE(SUM(j.reasoning_tokens), 0)::BIGINT AS reasoning, COALESCE(SUM(j.cost_usd), 0)::DOUBLE PRECISION AS cost,
                    COUNT(*) FILTER (WHERE j.cost_usd IS NULL) AS unpriced, COALESCE(SUM(j.cache_write_tokens), 0)::BIGINT AS written,
                    COUNT(*) FILTER (WHERE j.usage_estimated) AS estimated
                FROM keel_journal j JOIN keel_runs r ON r.id = j.run_id
                WHERE j.model IS NOT NULL AND j.status = 'completed'
                  AND (\(query.since == nil) OR j.completed_at >= \(query.since?.timeIntervalSince1970 ?? 0))
                  AND (\(query.tenant == nil) OR r.tenant = \(query.tenant ?? ""))
                  AND (\(query.runID == nil) OR j.run_id = \(query.runID ?? ""))
                GROUP BY 1 ORDER BY cost DESC, key
                """, logger: logger
            ).map { row in
                let columns = Columns(row)
                let key: String? = try columns("key")
                return CostRow(
                    key: key ?? "-", steps: try columns("steps"),
                    usage: Usage(
                        inputTokens: try columns("input"), cachedInputTokens: try columns("cached"), outputTokens: try columns("output"),
                        reasoningTokens: try columns("reasoning"), cacheWriteInputTokens: try columns("written")),
                    costUSD: try columns("cost"), unpricedSteps: try columns("unpriced"), estimatedSteps: try columns("estimated"))
            }
        }
    }
}

/// The store as a ``KeelRuntime/SpendLedger``: reservations and settled spending are rows, so every
/// worker on every machine holds the same tenant budgets and quotas.
extension PostgresRunStore: SpendLedger {
    public func reserve(_ amount: Spend, in scope: SpendScope, cap: Budget, ttl: Duration) async throws -> Result<SpendReservation, BudgetExceeded> {
        let logger = self.logger
        return try await write { connection in
            // One reservation per scope at a time, across all workers.
            try await connection.rows("SELECT pg_advisory_xact_lock(hashtextextended(\(scope.key), 0))", logger: logger)
            // The database's clock, as for leases: a worker whose clock runs fast must not lapse
            // the reservations of the others.
            let now = try await Self.databaseTime(connection, logger: logger).timeIntervalSince1970
            try await connection.rows("DELETE FROM keel_spend_reservations WHERE expires_at <= \(now)", logger: logger)
            let settled = try await Self.settled(connection, scope, logger: logger)
            let held = try await connection.rows(
                """
                SELECT COALESCE(SUM(tokens), 0)::BIGINT AS tokens, COALESCE(SUM(cost_usd), 0)::DOUBLE PRECISION AS cost
                FROM keel_spend_reservations WHERE scope = \(scope.key)
                """, logger: logger
            ).first.map(Columns.init)
            let reserved = Spend(tokens: try held?("tokens") ?? 0, costUSD: try held?("cost") ?? 0)
            guard cap.allows(amount, after: settled + reserved) else {
                return .failure(BudgetExceeded(scope: scope, limit: cap, spent: settled + reserved, worstCase: amount))
            }
            let id = UUID().uuidString.lowercased()
            try await connection.rows(
                """
                INSERT INTO keel_spend_reservations (id, scope, tokens, cost_usd, expires_at)
                VALUES (\(id), \(scope.key), \(amount.tokens), \(amount.costUSD), \(now + Self.seconds(ttl)))
                """, logger: logger)
            return .success(SpendReservation(id: id, scope: scope, amount: amount))
        }
    }

    public func renew(_ reservation: SpendReservation, ttl: Duration) async throws -> Bool {
        let logger = self.logger
        let seconds = Self.seconds(ttl)
        return try await write { connection in
            let rows = try await connection.rows(
                """
                UPDATE keel_spend_reservations SET expires_at = EXTRACT(EPOCH FROM clock_timestamp()) + \(seconds)
                WHERE id = \(reservation.id) AND expires_at > EXTRACT(EPOCH FROM clock_timestamp())
                RETURNING id
                """, logger: logger)
            return !rows.isEmpty
        }
    }

    public func settle(_ reservation: SpendReservation, actual: Spend) async throws {
        let logger = self.logger
        try await write { connection in try await Self.settle(connection, reservation, actual: actual, logger: logger) }
    }

    static func settle(_ connection: PostgresConnection, _ reservation: SpendReservation, actual: Spend, logger: Logger) async throws {
        try await connection.rows("DELETE FROM keel_spend_reservations WHERE id = \(reservation.id)", logger: logger)
        try await connection.rows(
            """
            INSERT INTO keel_spend_settled (scope, tokens, cost_usd) VALUES (\(reservation.scope.key), \(actual.tokens), \(actual.costUSD))
            ON CONFLICT (scope) DO UPDATE SET tokens = keel_spend_settled.tokens + EXCLUDED.tokens,
                cost_usd = keel_spend_settled.cost_usd + EXCLUDED.cost_usd
            """, logger: logger)
    }

    public func spent(in scope: SpendScope) async throws -> Spend {
        let logger = self.logger
        return try await read { connection in try await Self.settled(connection, scope, logger: logger) }
    }

    public func markAlertFired(in scope: SpendScope, threshold: Double) async throws -> Bool {
        let logger = self.logger
        return try await write { connection in
            !(try await connection.rows(
                """
                INSERT INTO keel_spend_alerts (scope, threshold, fired_at) VALUES (\(scope.key), \(threshold), \(Date().timeIntervalSince1970))
                ON CONFLICT DO NOTHING RETURNING scope
                """, logger: logger
            ).isEmpty)
        }
    }

    public func consumeQuota(_ key: String, limit: Int) async throws -> Bool {
        let logger = self.logger
        return try await write { connection in
            let counted = try await connection.rows(
                """
                INSERT INTO keel_quotas (key, used) VALUES (\(key), 1)
                ON CONFLICT (key) DO UPDATE SET used = keel_quotas.used + 1 WHERE keel_quotas.used < \(limit)
                RETURNING used
                """, logger: logger)
            return counted.count == 1 && limit > 0
        }
    }

    static func settled(_ connection: PostgresConnection, _ scope: SpendScope, logger: Logger) async throws -> Spend {
        let row = try await connection.rows("SELECT tokens, cost_usd FROM keel_spend_settled WHERE scope = \(scope.key)", logger: logger).first
            .map(Columns.init)
        return Spend(tokens: try row?("tokens") ?? 0, costUSD: try row?("cost_usd") ?? 0)
    }
}
