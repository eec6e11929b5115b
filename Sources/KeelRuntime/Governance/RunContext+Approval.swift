import Foundation
import KeelCore

extension RunContext {
    /// Waits durably for a person's decision on `request` (its id stable for the call), at a
    /// reserved position, and journals the decision there. The decision is read from the store's
    /// approval record — never from a signal's payload — so only `decideApproval` can approve.
    /// When the request times out its policy applies: deny (journaled as a denial), escalate (an
    /// alert, then waiting without a limit), or fail the run.
    public func approval(at sequence: Int, _ request: ApprovalRequest, alerts: any AlertHook) async throws -> ApprovalOutcome {
        let name = "approval-\(request.tool)-\(request.id)"
        if let outcome = try replayed(sequence, name, as: ApprovalOutcome.self) { return outcome }
        let record = try await store.requestApproval(request, lease: lease)
        @Sendable func decided(_ record: ApprovalRecord) -> ApprovalOutcome {
            ApprovalOutcome(decision: record.decision ?? .deny(reason: "no decision recorded"), decidedBy: record.decidedBy ?? "unknown", timedOut: false)
        }
        switch record.status {
        case .approved, .denied:
            return try await complete(sequence, name, kind: .signal, value: decided(record), metering: nil, startedAt: Date(), attempts: 1)
        case .expired:
            let outcome = ApprovalOutcome(decision: .deny(reason: "the approval timed out"), decidedBy: "policy", timedOut: true)
            return try await complete(sequence, name, kind: .signal, value: outcome, metering: nil, startedAt: Date(), attempts: 1)
        case .pending, .escalated:
            if record.status == .pending, let expires = record.request.expiresAt, expires <= (try await store.currentTime()) {
                switch record.request.onTimeout {
                case .deny:
                    let closed = try await store.closeApproval(id: request.id, as: .expired, lease: lease)
                    if closed.status == .approved || closed.status == .denied {
                        // A person decided just before the time ran out: the decision stands.
                        return try await complete(sequence, name, kind: .signal, value: decided(closed), metering: nil, startedAt: Date(), attempts: 1)
                    }
                    let outcome = ApprovalOutcome(decision: .deny(reason: "nobody decided within the approval's time limit"), decidedBy: "policy", timedOut: true)
                    let audit = AuditRecord(
                        runID: runID, step: request.sequence, tool: request.tool, action: .approval,
                        argumentsDigest: AuditRecord.digest(ofArguments: request.arguments), decision: "denied: timed out", actor: "policy")
                    return try await complete(sequence, name, kind: .signal, value: outcome, metering: nil, startedAt: Date(), attempts: 1, effects: StepEffects(audit: [audit]))
                case .fail:
                    let closed = try await store.closeApproval(id: request.id, as: .expired, lease: lease)
                    if closed.status == .approved || closed.status == .denied {
                        return try await complete(sequence, name, kind: .signal, value: decided(closed), metering: nil, startedAt: Date(), attempts: 1)
                    }
                    throw WorkflowError(.approvalTimedOut, "nobody decided approval \(request.id) for \(request.tool) in time", sequence: sequence, scope: scope)
                case .escalate:
                    let closed = try await store.closeApproval(id: request.id, as: .escalated, lease: lease)
                    if closed.status == .approved || closed.status == .denied {
                        return try await complete(sequence, name, kind: .signal, value: decided(closed), metering: nil, startedAt: Date(), attempts: 1)
                    }
                    await alerts.send(Alert(
                        kind: .approvalEscalated, message: "approval \(request.id) for \(request.tool) in run \(runID) waited past its time limit: \(request.reason)",
                        runID: runID))
                    throw suspend(RunSuspension(wakeAt: nil, waitingFor: [ApprovalRecord.signalName(for: request.id)]))
                }
            }
            throw suspend(RunSuspension(wakeAt: record.status == .pending ? record.request.expiresAt : nil, waitingFor: [ApprovalRecord.signalName(for: request.id)]))
        }
    }
}
