import KeelCore

/// One tool call's way through governance — policy, then approval, then the call — as a state
/// machine with no I/O, beside ``AgentLoop``: it says what must happen next and what the call's
/// result and audit decision are. `ToolSteps` performs its actions as durable steps (a verdict, an
/// approval wait, a call answered from the caches where allowed or journaled as started first when
/// it changes the world, so that a crash leaves it *in doubt* rather than lost).
///
/// ```
/// start ─▶ checkPolicy ─verdict─▶ record(refusal)                 ─▶ finish
///                              └▶ askApproval ─denied─▶ record       ─▶ finish
///                              │              └approved─▶ run(call)  ─▶ finish
///                              └▶ run(call) ─ran─▶ finish
/// ```
struct ToolCallFlow: Sendable {
    /// What the driver does next.
    enum Action: Sendable, Equatable {
        /// Evaluate the call's policy: permissions, argument rules, rate limit, quotas, budget.
        case checkPolicy
        /// Wait for a person's decision (or the timeout policy's).
        case askApproval(reason: String)
        /// Run `call` — the arguments an approver may have edited — and audit it as `decision`.
        case run(ToolCall, decision: String)
        /// Journal `result`, which the tool did not produce (a refusal or a denial), audited as
        /// `decision` with the model's arguments.
        case record(ToolResult, decision: String)
        /// The call is done.
        case finish(ToolResult)
    }

    enum Event: Sendable {
        case verdict(PolicyVerdict)
        case decided(ApprovalOutcome)
        /// The tool ran (or a cache answered).
        case ran(ToolResult)
        /// A result that did not run the tool was journaled.
        case recorded(ToolResult)
    }

    enum State: Sendable, Equatable {
        case ready
        case checking
        case awaitingApproval
        case running
        case recording
        case finished(ToolResult)
    }

    /// The prefix of a refusal by policy, which the model reads and the per-run quota skips.
    static let refusalPrefix = "Refused by policy: "

    let call: ToolCall
    /// Whether the call is governed (its policy is checked and it is audited).
    let isGoverned: Bool
    /// The call's policy, whose argument rules edited arguments must meet too.
    let policy: ToolPolicy?
    private(set) var state = State.ready

    init(call: ToolCall, isGoverned: Bool, policy: ToolPolicy?) {
        self.call = call
        self.isGoverned = isGoverned
        self.policy = policy
    }

    /// The first action: a governed call's policy check, or an ungoverned call itself.
    mutating func start() -> Action {
        guard state == .ready else { return unexpected() }
        if isGoverned {
            state = .checking
            return .checkPolicy
        }
        state = .running
        return .run(call, decision: "allowed")
    }

    mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.checking, .verdict(let verdict)):
            if let refusal = verdict.refusal { return record(refusal: refusal, decision: "refused") }
            if let reason = verdict.approvalReason {
                state = .awaitingApproval
                return .askApproval(reason: reason)
            }
            state = .running
            return .run(call, decision: "allowed")
        case (.awaitingApproval, .decided(let outcome)):
            switch outcome.decision {
            case .deny(let why):
                state = .recording
                let result = ToolResult(callID: call.id, name: call.name, content: "Denied by \(outcome.decidedBy): \(why)", isError: true)
                return .record(result, decision: "denied by \(outcome.decidedBy)")
            case .approveWithArguments(let edited):
                // Edited arguments are new arguments: they meet the same rules as the model's.
                if let broken = ToolSteps.ruleBroken(by: edited, policy: policy) {
                    return record(
                        refusal: "the arguments \(outcome.decidedBy) approved break a rule: \(broken)", decision: "refused: edited arguments: \(broken)")
                }
                state = .running
                return .run(ToolCall(id: call.id, name: call.name, arguments: edited), decision: "approved by \(outcome.decidedBy) with edited arguments")
            case .approve:
                state = .running
                return .run(call, decision: "approved by \(outcome.decidedBy)")
            }
        case (.running, .ran(let result)), (.recording, .recorded(let result)):
            state = .finished(result)
            return .finish(result)
        default:
            return unexpected()
        }
    }

    private mutating func record(refusal: String, decision: String) -> Action {
        state = .recording
        return .record(ToolResult(callID: call.id, name: call.name, content: Self.refusalPrefix + refusal, isError: true), decision: decision)
    }

    /// An event the state does not expect is a bug in the driver: the call ends as an error the
    /// model reads, rather than trapping.
    private mutating func unexpected() -> Action {
        let result = ToolResult(callID: call.id, name: call.name, content: "Internal error: the tool call's steps ran out of order.", isError: true)
        state = .finished(result)
        return .finish(result)
    }
}
