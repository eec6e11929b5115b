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
    ]
}
