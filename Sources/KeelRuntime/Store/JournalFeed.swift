/// A journal entry with the number of the write that left it as it is: a run's journal writes
/// are numbered 1, 2, 3 … in the order they were committed, whichever process made them.
public struct JournalChange: Sendable, Hashable {
    public var commit: Int
    public var entry: JournalEntry

    public init(commit: Int, entry: JournalEntry) {
        self.commit = commit
        self.entry = entry
    }
}

/// A store whose journals can be followed: what was written to a run's journal after a given
/// write. The run stores (SQLite, PostgreSQL, in memory) are feeds; the server's live events
/// follow them, so they see steps committed by any worker process.
public protocol JournalFeed: Sendable {
    /// The entries of run `runID` last written after write number `commit` (0: all of them), in
    /// the order of their last writes, at most `limit`. An entry written twice (started, then
    /// completed) appears once, as its last write left it.
    func journalChanges(runID: String, after commit: Int, limit: Int) async throws -> [JournalChange]
}
