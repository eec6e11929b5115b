import Foundation
import GRDB
import KeelRuntime
import Testing

@testable import KeelSQLite

/// A store written by an older Keel opens with its data intact.
@Suite(.timeLimit(.minutes(5))) struct SQLiteMigrationTests {
    /// Before v7 the journal had no scopes: its steps become the run's own, and the run resumes.
    @Test func aJournalFromBeforeScopesBecomesTheRunsOwnSteps() async throws {
        let path = try temporaryStorePath()
        let old = try DatabaseQueue(path: path)
        try SQLiteRunStore.migrator.migrate(old, upTo: "v6 signal idempotency keys")
        try await old.write { db in
            try db.execute(sql: "INSERT INTO runs (id, workflow, input, status, created_at, updated_at) VALUES ('old', 'w', '1', 'pending', 0, 0)")
            for sequence in 0..<3 {
                try db.execute(
                    sql: """
                        INSERT INTO journal (run_id, sequence, name, kind, status, result, attempts, model, input_tokens, output_tokens,
                            cost_usd, started_at, completed_at, epoch)
                        VALUES ('old', ?, ?, 'model', 'completed', '"r"', 1, 'openai:gpt-4o-mini', 10, 5, 0.001, 1, 2, 1)
                        """,
                    arguments: [sequence, "model-\(sequence + 1)"])
            }
        }
        try old.close()

        let store = try SQLiteRunStore(path: path)
        let journal = try await store.journal(runID: "old")
        #expect(journal.map(\.name) == ["model-1", "model-2", "model-3"])
        #expect(journal.allSatisfy { $0.scope == "" && $0.scopeAnchor == 0 && $0.metering?.costUSD == 0.001 })
        let costs = try await store.costs(CostQuery(groupBy: .run))
        #expect(costs.first?.steps == 3)
        // v10 numbers the old writes in the order they were made, so the journal can be followed.
        let changes = try await store.journalChanges(runID: "old", after: 0, limit: 10)
        #expect(changes.map(\.commit) == [1, 2, 3] && changes.map(\.entry.name) == ["model-1", "model-2", "model-3"])
        // New steps land beside the old ones, in scopes too.
        guard case .claimed(let lease, _) = try await store.claim(runID: "old", owner: RunOwner(id: "test"), leaseDuration: .seconds(30)) else {
            Issue.record("the old run could not be claimed")
            return
        }
        try await store.append(
            JournalEntry(runID: "old", sequence: 0, name: "model-1", kind: .model, status: .completed, result: "s", startedAt: Date(), completedAt: Date(), scope: "branch", scopeAnchor: 3),
            lease: lease)
        #expect(try await store.journal(runID: "old").map(\.scope) == ["", "", "", "branch"])
        #expect(try await store.journalChanges(runID: "old", after: 3, limit: 10).map(\.commit) == [4])
    }
}
