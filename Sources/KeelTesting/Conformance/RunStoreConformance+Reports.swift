import Foundation
import KeelCore
import KeelRuntime

extension RunStoreConformance {
    /// The checks of what a store reports about many runs at once.
    static let reportChecks: [Check] = [
        Check(name: "the summary counts runs, approvals and open dead letters by status, per tenant") { subject in
            let store = subject.store
            try expect(try await store.summary(tenant: nil) == StoreSummary(), "an empty store counts nothing")
            for (id, tenant) in [("s1", "acme"), ("s2", "acme"), ("s3", "acme"), ("s4", "globex"), ("s5", nil)] as [(String, String?)] {
                _ = try await store.createRun(NewRun(id: id, workflow: "w", input: nil, tenant: tenant))
            }
            let failing = try await claimed(store, "s1")
            try await store.finish(failing, status: .failed, output: nil, failure: RunFailure(code: "server", message: "down", sequence: 0))
            let asking = try await claimed(store, "s2")
            for number in 1...2 {
                let request = ApprovalRequest(id: "s2:\(number)", kind: .toolCall, runID: "s2", sequence: number, tool: "pay", arguments: "{}", reason: "money")
                _ = try await store.requestApproval(request, lease: asking)
            }
            try await store.suspend(asking, wakeAt: nil, waitingFor: [ApprovalRecord.signalName(for: "s2:1")])
            _ = try await store.decideApproval(id: "s2:2", decision: .approve, by: "alice")
            let globex = try await claimed(store, "s4")
            try await store.finish(globex, status: .failed, output: nil, failure: RunFailure(code: "tool", message: "broken", sequence: 0))

            let acme = try await subject.openAnother().summary(tenant: "acme")
            try expect(acme.runs == [.failed: 1, .waiting: 1, .pending: 1], "acme's runs by status: \(acme.runs)")
            try expect(acme.approvals == [.pending: 1, .approved: 1] && acme.waitingApprovals == 1, "acme's approvals: \(acme.approvals)")
            try expect(acme.openDeadLetters == 1, "acme's open dead letters: \(acme.openDeadLetters)")
            let all = try await store.summary(tenant: nil)
            try expect(all.runs == [.failed: 2, .waiting: 1, .pending: 2], "every tenant's runs: \(all.runs)")
            try expect(all.openDeadLetters == 2, "every tenant's dead letters: \(all.openDeadLetters)")
            let nobody = try await store.summary(tenant: "initech")
            try expect(nobody == StoreSummary(), "a tenant with no runs sees nothing: \(nobody)")

            _ = try await store.reopen(runID: "s1")
            let reopened = try await store.summary(tenant: "acme")
            try expect(reopened.openDeadLetters == 0 && reopened.runs[.pending] == 2, "reopening resolves the dead letter: \(reopened)")
        },
        Check(name: "API keys are found by their hash, unique by tenant and name, and revoked for good") { subject in
            guard let store = subject.store as? any APIKeyStore, let other = try await subject.openAnother() as? any APIKeyStore else {
                throw Failure(description: "the store keeps no API keys")
            }
            let created = Date(timeIntervalSince1970: 1_800_000_000)
            let ops = APIKeyRecord(id: "key_ops", name: "ops", tenant: "acme", role: .operator, hash: String(repeating: "a", count: 64), createdAt: created)
            let viewer = APIKeyRecord(id: "key_view", name: "dash", tenant: "globex", role: .viewer, hash: String(repeating: "b", count: 64), createdAt: created.addingTimeInterval(1))
            try await store.createKey(ops)
            try await store.createKey(viewer)
            try expect(try await other.key(hash: ops.hash) == ops, "another handle finds the key by its hash")
            try expect(try await store.key(hash: String(repeating: "c", count: 64)) == nil, "an unknown hash finds nothing")
            var sameName = ops
            sameName.id = "key_ops2"
            sameName.hash = String(repeating: "d", count: 64)
            try await expectStoreError(.conflict, "a second key of one name in one tenant") { try await store.createKey(sameName) }
            var otherTenant = sameName
            otherTenant.tenant = "globex"
            otherTenant.createdAt = created.addingTimeInterval(2)
            try await store.createKey(otherTenant)
            try expect(try await store.keys(tenant: "acme").map(\.id) == ["key_ops"], "one tenant's keys")
            try expect(try await store.keys(tenant: nil).map(\.id) == ["key_ops", "key_view", "key_ops2"], "every key, oldest first")
            let revoked = try await store.revokeKey(id: "key_ops")
            try expect(revoked.revokedAt != nil, "revoking records when")
            try expect(try await other.key(hash: ops.hash)?.revokedAt == revoked.revokedAt, "the revocation is stored")
            try expect(try await store.revokeKey(id: "key_ops").revokedAt == revoked.revokedAt, "revoking again changes nothing")
            try await expectStoreError(.notFound, "revoking a missing key") { try await store.revokeKey(id: "key_none") }
        },
        Check(name: "a journal is followed in the order of its writes, from any write on") { subject in
            guard let store = subject.store as? any RunStore & JournalFeed, let other = try await subject.openAnother() as? any JournalFeed else {
                throw Failure(description: "the store's journals cannot be followed")
            }
            _ = try await store.createRun(NewRun(id: "feed", workflow: "w", input: nil))
            let lease = try await claimed(store, "feed")
            try await store.append(entry("feed", 0, .started), lease: lease)
            try await store.append(entry("feed", 1), lease: lease)
            try await store.append(entry("feed", 0), lease: lease)
            try await store.append(scoped("feed", "branch", 0, anchor: 2), lease: lease)
            let all = try await other.journalChanges(runID: "feed", after: 0, limit: 100)
            try expect(all.map(\.commit) == [2, 3, 4], "each entry once, at its last write: \(all.map(\.commit))")
            try expect(all.map(\.entry.address) == ["1", "0", "branch/0"] && all[1].entry.status == .completed, "in write order: \(all.map(\.entry.address))")
            try expect(try await store.journalChanges(runID: "feed", after: 3, limit: 100).map(\.entry.address) == ["branch/0"], "after a write")
            try expect(try await store.journalChanges(runID: "feed", after: 0, limit: 1).map(\.commit) == [2], "limited")
            try expect(try await store.journalChanges(runID: "nobody", after: 0, limit: 10).isEmpty, "a missing run has no changes")
            let forked = try await store.fork(runID: "feed", atSequence: 2, newRunID: "feed-fork")
            let copied = try await store.journalChanges(runID: forked.id, after: 0, limit: 100)
            try expect(copied.map(\.commit) == [1, 2], "a fork's copies are its first writes: \(copied.map(\.commit))")
        },
    ]
}
