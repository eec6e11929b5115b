import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// The audit log on PostgreSQL against tampering that skips row triggers, and against false
/// alarms under load.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresAuditTests {
    static func record(_ number: Int) -> AuditRecord {
        AuditRecord(runID: "r", step: number, tool: "t", action: .call, argumentsDigest: nil, decision: "ok", actor: "agent")
    }

    @Test func truncatingTheLogOrDeletingItsHeadIsRefused() async throws {
        let (store, url) = try await freshStore()
        try await store.appendAudit([Self.record(1), Self.record(2)])
        let cluster = try await PostgresTestCluster.shared()
        for statement in ["TRUNCATE keel_audit", "TRUNCATE keel_audit_head", "DELETE FROM keel_audit_head", "DELETE FROM keel_audit WHERE sequence = 2"] {
            await #expect(throws: (any Error).self, "\(statement) went through") { try await cluster.psql(url, statement) }
        }
        #expect(try await store.verifyAuditLog().isIntact)
        await store.close()
    }

    @Test func anEmptiedLogWithoutItsHeadIsNotIntact() async throws {
        let (store, url) = try await freshStore()
        #expect(try await store.verifyAuditLog().isIntact, "a new, empty log is intact")
        try await store.appendAudit([Self.record(1)])
        // Someone with the rights to drop triggers removes everything, head included.
        try await PostgresTestCluster.shared().psql(url, """
            DROP TRIGGER keel_audit_no_truncate ON keel_audit; DROP TRIGGER keel_audit_head_kept ON keel_audit_head;
            TRUNCATE keel_audit; DELETE FROM keel_audit_head
            """)
        let verification = try await store.verifyAuditLog()
        #expect(!verification.isIntact)
        #expect(verification.problem?.contains("head") == true, "\(String(describing: verification.problem))")
        await store.close()
    }

    /// Verifying while workers append: entries and head are read in one snapshot, so no append
    /// between the two reads looks like entries deleted from the end.
    @Test func verifyingWhileOthersAppendRaisesNoFalseAlarm() async throws {
        let (store, url) = try await freshStore()
        let writer = try await connectForTests(url)
        let appending = Task {
            for number in 1...300 { try await writer.appendAudit([Self.record(number)]) }
        }
        var alarms: [String] = []
        while !appending.isCancelled {
            let verification = try await store.verifyAuditLog()
            if !verification.isIntact { alarms.append(verification.problem ?? "?") }
            if try await store.auditLog(runID: nil, tool: nil, limit: nil).count >= 300 { break }
        }
        try await appending.value
        #expect(alarms.isEmpty, "\(alarms.count) false alarms: \(alarms.prefix(3))")
        await writer.close()
        await store.close()
    }
}
