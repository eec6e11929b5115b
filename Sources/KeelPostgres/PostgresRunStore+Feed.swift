import KeelRuntime
import PostgresNIO

extension PostgresRunStore: JournalFeed {
    public func journalChanges(runID: String, after commit: Int, limit: Int) async throws -> [JournalChange] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                "SELECT * FROM keel_journal WHERE run_id = \(runID) AND commit_number > \(commit) ORDER BY commit_number LIMIT \(limit)", logger: logger
            ).map { row in JournalChange(commit: try Columns(row)("commit_number"), entry: try Self.decodeEntry(row)) }
        }
    }
}
