import Foundation
import KeelCore
import KeelRuntime
import Testing

/// The rules every store applies, with no store: claims, quarantine, reopening, fork bounds,
/// decide-then-wake and the audit chain.
@Suite(.timeLimit(.minutes(1))) struct StoreRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func run(_ status: RunStatus, owner: String? = nil, expires: TimeInterval? = nil, waitingFor: [String] = []) -> RunRecord {
        RunRecord(
            id: "r", workflow: "w", input: .null, status: status, waitingFor: waitingFor, owner: owner,
            leaseExpiresAt: expires.map { now.addingTimeInterval($0) }, epoch: 3, createdAt: now, updatedAt: now)
    }

    @Test func aClaimIsBlockedByAFinishedRunOrAnotherLiveUnexpiredOwnerOnly() {
        let me = RunOwner(id: "worker-a")
        #expect(StoreRules.claimBlocker(run(.completed), claimant: me, now: now) == .finished(run(.completed)))
        #expect(StoreRules.claimBlocker(run(.running, owner: "worker-b", expires: 30), claimant: me, now: now)
            == .busy(owner: "worker-b", until: now.addingTimeInterval(30)))
        #expect(StoreRules.claimBlocker(run(.running, owner: "worker-b", expires: -1), claimant: me, now: now) == nil, "an expired lease is free")
        #expect(StoreRules.claimBlocker(run(.running, owner: "worker-a", expires: 30), claimant: me, now: now) == nil, "its own lease")
        #expect(StoreRules.claimBlocker(run(.pending), claimant: me, now: now) == nil)
        #expect(StoreRules.claimBlocker(run(.waiting), claimant: me, now: now) == nil)
    }

    @Test func takeoversWithoutProgressQuarantineOnlyPastTheLimit() {
        #expect(StoreRules.recoveries(after: .running, had: 2) == 3, "taken from a worker that stopped")
        #expect(StoreRules.recoveries(after: .pending, had: 2) == 2)
        #expect(StoreRules.quarantine(recoveries: 5, maxRecoveries: 5, lastOwner: nil) == nil)
        #expect(StoreRules.quarantine(recoveries: 6, maxRecoveries: 5, lastOwner: "w")?.code == "quarantined")
        #expect(StoreRules.quarantine(recoveries: 2, maxRecoveries: 0, lastOwner: nil) != nil, "the limit is at least 1")
        #expect(StoreRules.quarantine(recoveries: 1, maxRecoveries: 0, lastOwner: nil) == nil)
    }

    @Test func aWriteUnderAnotherEpochOwnerOrStatusLosesTheLease() throws {
        let lease = Lease(runID: "r", owner: "a", epoch: 3, expiresAt: now)
        try StoreRules.checkLease(lease, epoch: 3, owner: "a", status: .running)
        for (epoch, owner, status) in [(4, "a", RunStatus.running), (3, "b", .running), (3, "a", .waiting), (3, "a", .cancelled)] {
            #expect {
                try StoreRules.checkLease(lease, epoch: epoch, owner: owner, status: status)
            } throws: { error in
                (error as? StoreError)?.code == .leaseLost
                    && (status == .cancelled) == (error as? StoreError)?.message.contains("was cancelled")
            }
        }
    }

    @Test func onlyAFailedOrCancelledRunReopensAndACompletedOneIsForked() throws {
        #expect(try StoreRules.reopens(run(.failed)))
        #expect(try StoreRules.reopens(run(.cancelled)))
        for status in [RunStatus.pending, .running, .waiting] { #expect(try !StoreRules.reopens(run(status))) }
        #expect { try StoreRules.reopens(run(.completed)) } throws: { "\($0)".contains("fork it") }
        try StoreRules.checkFork(runID: "r", at: 0, length: 4)
        try StoreRules.checkFork(runID: "r", at: 4, length: 4)
        #expect(throws: StoreError.self) { try StoreRules.checkFork(runID: "r", at: 5, length: 4) }
        #expect(throws: StoreError.self) { try StoreRules.checkFork(runID: "r", at: -1, length: 4) }
    }

    @Test func aDecisionIsSingleUseAndWakesOnlyTheRunWaitingForIt() throws {
        let request = ApprovalRequest(id: "a1", kind: .toolCall, runID: "r", sequence: 2, tool: "pay", arguments: "{}", reason: "r")
        let pending = ApprovalRecord(request: request, status: .pending)
        let approved = try StoreRules.decide(pending, with: .approve, by: "ana", at: now)
        #expect(approved.status == .approved && approved.decidedBy == "ana" && approved.decidedAt == now)
        #expect(try StoreRules.decide(ApprovalRecord(request: request, status: .escalated), with: .deny(reason: "no"), by: "bo", at: now).status == .denied)
        #expect(throws: StoreError.self) { try StoreRules.decide(approved, with: .deny(reason: "late"), by: "bo", at: now) }
        #expect(throws: StoreError.self) { try StoreRules.decide(pending, with: .approveWithArguments("[1]"), by: "bo", at: now) }

        let signal = ApprovalRecord.signalName(for: "a1")
        #expect(StoreRules.wakes(run(.waiting, waitingFor: [signal]), onDecisionOf: "a1"))
        #expect(!StoreRules.wakes(run(.waiting, waitingFor: ["approval:other"]), onDecisionOf: "a1"))
        #expect(!StoreRules.wakes(run(.pending, waitingFor: [signal]), onDecisionOf: "a1"))
        try StoreRules.checkClosing(as: .expired)
        try StoreRules.checkClosing(as: .escalated)
        #expect(throws: StoreError.self) { try StoreRules.checkClosing(as: .approved) }
    }

    @Test func theAuditChainContinuesFromItsHeadAndVerifies() {
        let records = (1...3).map { AuditRecord(runID: "r", step: $0, tool: "t", action: .call, argumentsDigest: nil, decision: "allowed", actor: "x") }
        let first = StoreRules.chain(Array(records.prefix(2)), after: nil, at: now.addingTimeInterval(0.123_456_7), key: nil)
        #expect(first.map(\.sequence) == [1, 2])
        #expect(first[0].previousHash == AuditEntry.genesis && first[1].previousHash == first[0].hash)
        #expect(StoreRules.microseconds(first[0].time) == StoreRules.microseconds(now) + 123_457, "whole microseconds")
        let next = StoreRules.chain([records[2]], after: (first[1].sequence, first[1].hash), at: now, key: nil)
        #expect(next.map(\.sequence) == [3] && next[0].previousHash == first[1].hash)
        let all = first + next
        #expect(AuditVerification.verify(all, storedHead: next[0].hash).isIntact)
        var forged = all
        forged[1].record.decision = "refused"
        #expect(!AuditVerification.verify(forged, storedHead: next[0].hash).isIntact)
        #expect(StoreRules.chain([], after: nil, at: now, key: nil).isEmpty)
    }
}
