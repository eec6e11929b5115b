import Foundation
import GRDB
import KeelCore
import KeelRuntime
import KeelSQLite
import Testing

/// A keyed audit chain against a writer who can change the database but does not hold the key.
@Suite(.timeLimit(.minutes(5))) struct AuditKeyTests {
    static let key = "0123456789abcdef0123456789abcdef"

    static func store(at path: String, key: String?) throws -> SQLiteRunStore {
        var configuration = SQLiteRunStore.Configuration()
        configuration.auditKey = try key.map(AuditKey.init(secret:))
        return try SQLiteRunStore(path: path, configuration: configuration)
    }

    static let records = (1...3).map { number in
        AuditRecord(runID: "r", step: number, tool: "transfer", action: .call, argumentsDigest: nil, decision: "approved by ana", actor: "agent", outcome: "ok")
    }

    /// What a writer with the file and without the key does: drop the guards, change an entry's
    /// decision, and rebuild the chain from there with SHA-256, the head included.
    static func rewriteHistory(at path: String) async throws {
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "DROP TRIGGER audit_append_only_update")
            let rows = try Row.fetchAll(db, sql: "SELECT sequence, time_us, run_id, step, tool, action, actor, outcome FROM audit ORDER BY sequence")
            var previous = AuditEntry.genesis
            for row in rows {
                let sequence: Int = try row.decode(Int.self, forColumn: "sequence")
                let micros: Int64 = try row.decode(Int64.self, forColumn: "time_us")
                let record = AuditRecord(
                    runID: try row.decode(String?.self, forColumn: "run_id"), step: try row.decode(Int?.self, forColumn: "step"),
                    tool: try row.decode(String?.self, forColumn: "tool"),
                    action: AuditRecord.Action(rawValue: try row.decode(String.self, forColumn: "action")) ?? .call, argumentsDigest: nil,
                    decision: sequence == 2 ? "denied by ana" : "approved by ana", actor: try row.decode(String.self, forColumn: "actor"),
                    outcome: try row.decode(String?.self, forColumn: "outcome"))
                let hash = AuditEntry.hash(sequence: sequence, time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), record: record, previousHash: previous)
                try db.execute(
                    sql: "UPDATE audit SET decision = ?, previous_hash = ?, hash = ? WHERE sequence = ?",
                    arguments: [record.decision, previous, hash, sequence])
                previous = hash
            }
            try db.execute(sql: "UPDATE audit_head SET hash = ? WHERE id = 1", arguments: [previous])
        }
    }

    @Test func aRebuiltChainPassesWithoutAKeyAndFailsWithOne() async throws {
        // Without a key, a rewritten and rebuilt chain verifies: the threat the key answers.
        let plainPath = try temporaryStorePath()
        let plain = try Self.store(at: plainPath, key: nil)
        try await plain.appendAudit(Self.records)
        try await Self.rewriteHistory(at: plainPath)
        #expect(try await plain.verifyAuditLog().isIntact)
        #expect(try await plain.auditLog(runID: "r", tool: nil, limit: nil)[1].record.decision == "denied by ana")

        // With a key, the same rewrite is found at the entry it changed.
        let keyedPath = try temporaryStorePath()
        let keyed = try Self.store(at: keyedPath, key: Self.key)
        try await keyed.appendAudit(Self.records)
        #expect(try await keyed.verifyAuditLog().isIntact)
        try await Self.rewriteHistory(at: keyedPath)
        let verification = try await keyed.verifyAuditLog()
        #expect(!verification.isIntact)
        #expect(verification.firstBrokenSequence == 1)
    }

    @Test func aKeyedLogVerifiesOnlyWithItsKey() async throws {
        let path = try temporaryStorePath()
        try await Self.store(at: path, key: Self.key).appendAudit(Self.records)
        let withoutKey = try await Self.store(at: path, key: nil).verifyAuditLog()
        #expect(!withoutKey.isIntact)
        #expect(withoutKey.problem?.contains("KEEL_AUDIT_KEY") == true)
        #expect(!(try await Self.store(at: path, key: "another key of 32 bytes, not it!").verifyAuditLog().isIntact))
        #expect(try await Self.store(at: path, key: Self.key).verifyAuditLog().isIntact)
    }

    @Test func aShortKeyIsAClearError() throws {
        #expect(throws: AuditKeyError.self) { try AuditKey(secret: "short") }
        #expect(throws: AuditKeyError.self) { try AuditKey.fromEnvironment(["KEEL_AUDIT_KEY": "short"]) }
        #expect(try AuditKey.fromEnvironment([:]) == nil)
    }
}
