import Foundation
import KeelCore
import KeelTesting
import Testing

@testable import KeelRuntime

/// A tool call's way through policy, approval and the call, with no I/O.
@Suite(.timeLimit(.minutes(1))) struct ToolCallFlowTests {
    let call = ToolCall(id: "c1", name: "transfer", arguments: #"{"amount": 50}"#)

    var capped: ToolPolicy {
        var policy = ToolPolicy(approval: .always)
        policy.argumentRules = [.require("/amount", "at most 100") { ($0?.doubleValue ?? .infinity) <= 100 }]
        return policy
    }

    @Test func anUngovernedCallRunsAtOnce() {
        var flow = ToolCallFlow(call: call, isGoverned: false, policy: nil)
        #expect(flow.start() == .run(call, decision: "allowed"))
        let result = ToolResult(callID: "c1", name: "transfer", content: "done")
        #expect(flow.handle(.ran(result)) == .finish(result))
        #expect(flow.state == .finished(result))
    }

    @Test func aRefusedCallIsRecordedNotRun() {
        var flow = ToolCallFlow(call: call, isGoverned: true, policy: capped)
        #expect(flow.start() == .checkPolicy)
        let action = flow.handle(.verdict(PolicyVerdict(refusal: "no money today")))
        let refusal = ToolResult(callID: "c1", name: "transfer", content: "Refused by policy: no money today", isError: true)
        #expect(action == .record(refusal, decision: "refused"))
        #expect(flow.handle(.recorded(refusal)) == .finish(refusal))
    }

    @Test func anAllowedCallRunsAndOneNeedingApprovalWaitsForIt() {
        var allowed = ToolCallFlow(call: call, isGoverned: true, policy: nil)
        _ = allowed.start()
        #expect(allowed.handle(.verdict(PolicyVerdict())) == .run(call, decision: "allowed"))

        var held = ToolCallFlow(call: call, isGoverned: true, policy: capped)
        _ = held.start()
        #expect(held.handle(.verdict(PolicyVerdict(approvalReason: "big"))) == .askApproval(reason: "big"))
        #expect(held.handle(.decided(ApprovalOutcome(decision: .approve, decidedBy: "ana", timedOut: false))) == .run(call, decision: "approved by ana"))
    }

    @Test func aDenialIsRecordedWithWhoAndWhy() {
        var flow = ToolCallFlow(call: call, isGoverned: true, policy: capped)
        _ = flow.start()
        _ = flow.handle(.verdict(PolicyVerdict(approvalReason: "big")))
        let denied = ToolResult(callID: "c1", name: "transfer", content: "Denied by policy: timed out", isError: true)
        #expect(flow.handle(.decided(ApprovalOutcome(decision: .deny(reason: "timed out"), decidedBy: "policy", timedOut: true)))
            == .record(denied, decision: "denied by policy"))
    }

    @Test func editedArgumentsRunWhenTheyKeepTheRulesAndAreRefusedWhenTheyBreakThem() {
        var kept = ToolCallFlow(call: call, isGoverned: true, policy: capped)
        _ = kept.start()
        _ = kept.handle(.verdict(PolicyVerdict(approvalReason: "big")))
        #expect(kept.handle(.decided(ApprovalOutcome(decision: .approveWithArguments(#"{"amount": 20}"#), decidedBy: "bo", timedOut: false)))
            == .run(ToolCall(id: "c1", name: "transfer", arguments: #"{"amount": 20}"#), decision: "approved by bo with edited arguments"))

        var broken = ToolCallFlow(call: call, isGoverned: true, policy: capped)
        _ = broken.start()
        _ = broken.handle(.verdict(PolicyVerdict(approvalReason: "big")))
        let action = broken.handle(.decided(ApprovalOutcome(decision: .approveWithArguments(#"{"amount": 5000}"#), decidedBy: "bo", timedOut: false)))
        guard case .record(let result, let decision) = action else {
            Issue.record("expected a refusal, got \(action)")
            return
        }
        #expect(result.isError && result.content.hasPrefix("Refused by policy: the arguments bo approved break a rule"))
        #expect(decision.hasPrefix("refused: edited arguments: "))
    }

    @Test func anEventOutOfOrderEndsTheCallAsAnErrorInsteadOfTrapping() {
        var flow = ToolCallFlow(call: call, isGoverned: true, policy: nil)
        _ = flow.start()
        let action = flow.handle(.ran(ToolResult(callID: "c1", name: "transfer", content: "too early")))
        guard case .finish(let result) = action else {
            Issue.record("expected the call to end, got \(action)")
            return
        }
        #expect(result.isError)
        #expect(flow.handle(.verdict(PolicyVerdict())) == action, "a finished call stays finished")
    }
}

/// The deadline on the agent's clock, with no sleep.
@Suite(.timeLimit(.minutes(1))) struct RunDeadlineTests {
    @Test func aDeadlinePassesWhenTheClockReachesIt() {
        let clock = TestClock()
        let now = Date()
        let deadline = RunDeadline(now.addingTimeInterval(30), clock: clock, now: now)
        #expect(!deadline.hasPassed)
        clock.advance(by: .seconds(29))
        #expect(!deadline.hasPassed)
        clock.advance(by: .seconds(1))
        #expect(deadline.hasPassed)
    }

    @Test func aPassedOrAbsurdlyFarDeadlineNeedsNoClockArithmetic() {
        let clock = TestClock()
        #expect(RunDeadline(Date().addingTimeInterval(-1), clock: clock).hasPassed)
        #expect(!RunDeadline(Date.distantFuture, clock: clock).hasPassed)
    }
}
