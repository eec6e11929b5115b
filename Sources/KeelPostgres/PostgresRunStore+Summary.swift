import KeelRuntime
import PostgresNIO

extension PostgresRunStore {
    public func summary(tenant: String?) async throws -> StoreSummary {
        let logger = self.logger
        return try await read { connection in
            let rows = try await connection.rows(
                """
                SELECT 'run' AS kind, status, COUNT(*) AS count FROM keel_runs r WHERE \(tenant)::text IS NULL OR r.tenant = \(tenant) GROUP BY status
                UNION ALL
                SELECT 'approval', a.status, COUNT(*) FROM keel_approvals a JOIN keel_runs r ON r.id = a.run_id
                    WHERE \(tenant)::text IS NULL OR r.tenant = \(tenant) GROUP BY a.status
                UNION ALL
                SELECT 'dead_letter', 'open', COUNT(*) FROM keel_dead_letters d JOIN keel_runs r ON r.id = d.run_id
                    WHERE d.resolved_at IS NULL AND (\(tenant)::text IS NULL OR r.tenant = \(tenant))
                """, logger: logger)
            var summary = StoreSummary()
            for row in rows {
                let columns = Columns(row)
                try summary.add(kind: columns("kind"), status: columns("status"), count: columns("count"))
            }
            return summary
        }
    }
}
