import GRDB
import KeelRuntime

extension SQLiteRunStore: JournalFeed {
    public func journalChanges(runID: String, after commit: Int, limit: Int) async throws -> [JournalChange] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM journal WHERE run_id = ? AND commit_number > ? ORDER BY commit_number LIMIT ?", arguments: [runID, commit, limit]
            ).map { row in JournalChange(commit: try Columns(row, in: "journal")("commit_number"), entry: try Self.decodeEntry(row)) }
        }
    }
}
