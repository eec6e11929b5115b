import Foundation
import GRDB
import KeelCore
import KeelRuntime

extension SQLiteRunStore {
    public func deadLetters(includeResolved: Bool, limit: Int) async throws -> [DeadLetter] {
        try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.*, r.workflow, r.tenant FROM dead_letters d JOIN runs r ON r.id = d.run_id
                    \(includeResolved ? "" : "WHERE d.resolved_at IS NULL") ORDER BY d.created_at DESC LIMIT ?
                    """,
                arguments: [limit])
            return try rows.map { row in
                let column = Columns(row, in: "dead_letters")
                let runID: String = try column("run_id")
                return try DeadLetter(
                    runID: runID, workflow: column("workflow"), tenant: column("tenant"), failure: try Self.decodeFailure(column("failure"), runID: runID),
                    journalLength: column("journal_length"), createdAt: Self.date(column("created_at")) ?? Date(timeIntervalSince1970: 0),
                    resolvedAt: Self.date(column("resolved_at")))
            }
        }
    }

    public func costs(_ query: CostQuery) async throws -> [CostRow] {
        try await read { db in
            let key: String
            switch query.groupBy {
            case .run: key = "j.run_id"
            case .model: key = "j.model"
            case .tenant: key = "COALESCE(r.tenant, '-')"
            case .day: key = "strftime('%Y-%m-%d', j.completed_at, 'unixepoch')"
            }
            var clauses = ["j.model IS NOT NULL", "j.status = 'completed'"]
            var arguments: StatementArguments = []
            if let since = query.since {
                clauses.append("j.completed_at >= ?")
                _ = arguments.append(contentsOf: [since.timeIntervalSince1970])
            }
            if let tenant = query.tenant {
                clauses.append("r.tenant = ?")
                _ = arguments.append(contentsOf: [tenant])
            }
            if let runID = query.runID {
                clauses.append("j.run_id = ?")
                _ = arguments.append(contentsOf: [runID])
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(key) AS key, COUNT(*) AS steps, SUM(j.input_tokens) AS input, SUM(j.cached_input_tokens) AS cached,
                        SUM(j.output_tokens) AS output, SUM(j.reasoning_tokens) AS reasoning, SUM(COALESCE(j.cost_usd, 0)) AS cost,
                        SUM(CASE WHEN j.cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced, SUM(j.cache_write_tokens) AS written,
                        SUM(j.usage_estimated) AS estimated
                    FROM journal j JOIN runs r ON r.id = j.run_id
                    WHERE \(clauses.joined(separator: " AND "))
                    GROUP BY key ORDER BY cost DESC, key
                    """,
                arguments: arguments)
            return try rows.map { row in
                let column = Columns(row, in: "journal")
                let key: String? = try column("key")
                return try CostRow(
                    key: key ?? "-", steps: column("steps"),
                    usage: Usage(
                        inputTokens: column("input") ?? 0, cachedInputTokens: column("cached") ?? 0, outputTokens: column("output") ?? 0,
                        reasoningTokens: column("reasoning") ?? 0, cacheWriteInputTokens: column("written") ?? 0),
                    costUSD: column("cost") ?? 0, unpricedSteps: column("unpriced") ?? 0, estimatedSteps: column("estimated") ?? 0)
            }
        }
    }

    public func summary(tenant: String?) async throws -> StoreSummary {
        try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT 'run' AS kind, status, COUNT(*) AS count FROM runs r WHERE ?1 IS NULL OR r.tenant = ?1 GROUP BY status
                    UNION ALL
                    SELECT 'approval', a.status, COUNT(*) FROM approvals a JOIN runs r ON r.id = a.run_id
                        WHERE ?1 IS NULL OR r.tenant = ?1 GROUP BY a.status
                    UNION ALL
                    SELECT 'dead_letter', 'open', COUNT(*) FROM dead_letters d JOIN runs r ON r.id = d.run_id
                        WHERE d.resolved_at IS NULL AND (?1 IS NULL OR r.tenant = ?1)
                    """,
                arguments: [tenant])
            var summary = StoreSummary()
            for row in rows {
                let column = Columns(row, in: "runs")
                try summary.add(kind: column("kind"), status: column("status"), count: column("count"))
            }
            return summary
        }
    }
}

/// The store as a ``KeelRuntime/SpendLedger``: reservations and settled spending are rows, so
/// every process on the machine holds the same tenant budgets.
extension SQLiteRunStore: SpendLedger {
    public func reserve(_ amount: Spend, in scope: SpendScope, cap: Budget, ttl: Duration) async throws -> Result<SpendReservation, BudgetExceeded> {
        try await write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "DELETE FROM spend_reservations WHERE expires_at <= ?", arguments: [now])
            let settled = try Self.settled(db, scope)
            let held = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(tokens), 0) AS tokens, COALESCE(SUM(cost_usd), 0) AS cost FROM spend_reservations WHERE scope = ?", arguments: [scope.key])
            let reserved = try held.map { row in
                let column = Columns(row, in: "spend_reservations")
                return try Spend(tokens: column("tokens"), costUSD: column("cost"))
            } ?? .zero
            guard cap.allows(amount, after: settled + reserved) else {
                return .failure(BudgetExceeded(scope: scope, limit: cap, spent: settled + reserved, worstCase: amount))
            }
            let id = UUID().uuidString.lowercased()
            try db.execute(
                sql: "INSERT INTO spend_reservations (id, scope, tokens, cost_usd, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, scope.key, amount.tokens, amount.costUSD, now + Self.seconds(ttl)])
            return .success(SpendReservation(id: id, scope: scope, amount: amount))
        }
    }

    public func renew(_ reservation: SpendReservation, ttl: Duration) async throws -> Bool {
        try await write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: "UPDATE spend_reservations SET expires_at = ? WHERE id = ? AND expires_at > ?",
                arguments: [now + Self.seconds(ttl), reservation.id, now])
            return db.changesCount == 1
        }
    }

    public func settle(_ reservation: SpendReservation, actual: Spend) async throws {
        try await write { db in try Self.settle(db, reservation, actual: actual) }
    }

    static func settle(_ db: Database, _ reservation: SpendReservation, actual: Spend) throws {
        try db.execute(sql: "DELETE FROM spend_reservations WHERE id = ?", arguments: [reservation.id])
        try db.execute(
            sql: """
                INSERT INTO spend_settled (scope, tokens, cost_usd) VALUES (?, ?, ?)
                ON CONFLICT (scope) DO UPDATE SET tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd
                """,
            arguments: [reservation.scope.key, actual.tokens, actual.costUSD])
    }

    public func spent(in scope: SpendScope) async throws -> Spend {
        try await read { db in try Self.settled(db, scope) }
    }

    public func markAlertFired(in scope: SpendScope, threshold: Double) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO spend_alerts (scope, threshold, fired_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [scope.key, threshold, Date().timeIntervalSince1970])
            return db.changesCount == 1
        }
    }

    static func settled(_ db: Database, _ scope: SpendScope) throws -> Spend {
        let row = try Row.fetchOne(db, sql: "SELECT tokens, cost_usd FROM spend_settled WHERE scope = ?", arguments: [scope.key])
        guard let row else { return .zero }
        let column = Columns(row, in: "spend_settled")
        return try Spend(tokens: column("tokens"), costUSD: column("cost_usd"))
    }
}
