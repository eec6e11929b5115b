import KeelCore
import Synchronization

extension Agent {
    /// The driver of an agent with handoffs or guardrails.
    ///
    /// 1. Input guardrails that run before the model are checked, in order; the parallel ones
    ///    start beside the first model call and are waited for before any side-effecting tool
    ///    call, handoff or answer.
    /// 2. The agent's loop runs; a handoff ends it, and the target's loop starts from the handed
    ///    transcript in the scope `handoff-<n>@<name>`, and so on.
    /// 3. The answering agent's output guardrails check its final answer.
    func driveTeam(
        _ loop: inout AgentLoop, in context: RunContext, modelFailures: ModelFailureHandling, observer: (@Sendable (AgentEvent) -> Void)?
    ) async throws -> AgentRunResult {
        let input = loop.transcript.messages.last { if case .user = $0 { true } else { false } }?.text ?? ""
        // A loop that already ran (continued after a person's feedback) was checked when it began.
        let checksInput = loop.steps.isEmpty
        for guardrail in inputGuardrails where checksInput && guardrail.timing == .beforeModel {
            if let trip = try await Self.check(guardrail, input, in: context) {
                _ = loop.handle(.guardrailTripped(trip))
                return loop.result(outcome: .guardrailTripped(trip))
            }
        }
        let parallel = checksInput ? inputGuardrails.filter { $0.timing == .parallel } : []
        let inputCheck = parallel.isEmpty ? nil : Task { try await Self.firstTrip(of: parallel, input, in: context) }
        defer { inputCheck?.cancel() }

        var agent = self
        var scope = context
        var chain: [String] = []
        var steps: [AgentStep] = []
        var usage = Usage.zero
        while true {
            let hooks = TeamHooks(agent: agent, inputCheck: inputCheck, handoffsLeft: agent.configuration.maxHandoffs - chain.count)
            var result = try await agent.driveTraced(&loop, in: scope, modelFailures: modelFailures, observer: observer, team: hooks)
            steps += result.steps
            usage += result.usage
            if case .guardrailTripped = result.outcome {} else if let trip = try await inputCheck?.value {
                result.outcome = .guardrailTripped(trip)
            }
            guard case .handedOff(let target) = result.outcome, let (handoff, call) = agent.handoff(named: target, in: loop.transcript) else {
                return AgentRunResult(
                    outcome: result.outcome, steps: steps, transcript: result.transcript, usage: usage, agent: chain.isEmpty ? nil : agent.name,
                    handoffs: chain.isEmpty ? nil : chain)
            }
            chain.append(target)
            context.logger.debug("handoff", metadata: ["from": "\(agent.name)", "to": "\(target)"])
            scope = try context.scope(UsageByAgent.scopeName("handoff-\(chain.count)", agent: target))
            let transcript = handoff.transcript(handingOff: loop.transcript, from: agent.name, call: call)
            agent = handoff.agent
            loop = AgentLoop(transcript: transcript, tools: agent.toolDefinitions, configuration: agent.configuration)
        }
    }

    /// The handoff to `target` that the last reply of `transcript` called, with the call.
    private func handoff(named target: String, in transcript: Transcript) -> (Handoff, ToolCall)? {
        guard let handoff = handoffs.first(where: { $0.agent.name == target }) else { return nil }
        for case .assistant(let reply) in transcript.messages.reversed() {
            if let call = reply.toolCalls.first(where: { $0.name == handoff.toolName }) { return (handoff, call) }
        }
        return nil
    }

    /// Runs an input guardrail in its scope; the trip, if it tripped.
    static func check(_ guardrail: InputGuardrail, _ input: String, in context: RunContext) async throws -> GuardrailTrip? {
        let scope = try context.scope("guardrail-\(scopeSafe(guardrail.name))")
        let verdict = try await guardrail.check(input, scope)
        guard verdict.action != .pass else { return nil }
        return GuardrailTrip(guardrail: guardrail.name, stage: .input, reason: verdict.reason ?? "no reason given")
    }

    /// Runs the guardrails side by side; the first trip in their order.
    static func firstTrip(of guardrails: [InputGuardrail], _ input: String, in context: RunContext) async throws -> GuardrailTrip? {
        let scopes = try guardrails.map { try context.scope("guardrail-\(scopeSafe($0.name))") }
        let pairs = Array(zip(guardrails, scopes))
        let verdicts = try await context.branches(scopes) { scope in
            guard let guardrail = pairs.first(where: { $0.1 === scope })?.0 else { return GuardrailVerdict.pass }
            return try await guardrail.check(input, scope)
        }
        for (guardrail, verdict) in zip(guardrails, verdicts) where verdict.action != .pass {
            return GuardrailTrip(guardrail: guardrail.name, stage: .input, reason: verdict.reason ?? "no reason given")
        }
        return nil
    }

    /// `name` with `/` replaced, as a scope name may not hold it.
    static func scopeSafe(_ name: String) -> String {
        String(name.map { $0 == "/" ? "_" : $0 })
    }
}

/// What a team agent's loop does besides an agent's: handoff calls, waiting for parallel input
/// guardrails before side effects, and output guardrails on the answer.
final class TeamHooks: Sendable {
    let handoffs: [String: Handoff]
    let outputGuardrails: [OutputGuardrail]
    let inputCheck: Task<GuardrailTrip?, any Error>?
    let sideEffecting: Set<String>
    let handoffsLeft: Int
    /// How many times each output guardrail sent an answer back.
    private let retries = Mutex([String: Int]())

    init(agent: Agent, inputCheck: Task<GuardrailTrip?, any Error>?, handoffsLeft: Int) {
        var byTool: [String: Handoff] = [:]
        for handoff in agent.handoffs where byTool[handoff.toolName] == nil { byTool[handoff.toolName] = handoff }
        handoffs = byTool
        var guardrails = agent.outputGuardrails
        if !agent.handoffs.isEmpty { guardrails.append(HandoffIntent.guardrail(toolNames: agent.handoffs.map(\.toolName))) }
        outputGuardrails = guardrails
        self.inputCheck = inputCheck
        sideEffecting = Set(agent.tools.filter(\.isSideEffecting).map(\.name))
        self.handoffsLeft = handoffsLeft
    }

    /// What the loop should hear instead of running `calls`, if anything: a handoff, a refused
    /// handoff, or a tripped input guardrail that side-effecting calls were waiting for.
    func intercept(_ calls: [ToolCall]) async throws -> AgentLoop.Event? {
        if let call = calls.first(where: { handoffs[$0.name] != nil }), let handoff = handoffs[call.name] {
            if let trip = try await inputCheck?.value { return .guardrailTripped(trip) }
            guard handoffsLeft > 0 else {
                return .toolsFinished(calls.map {
                    let refusal = handoffs[$0.name] != nil ? "refused: this conversation has been handed on too many times; answer the user yourself."
                        : "not run: answer without handing off and ask for this call again."
                    return ToolResult(callID: $0.id, name: $0.name, content: ToolCallError(.notRun, refusal).modelText, isError: true)
                })
            }
            let accepted = ToolResult(callID: call.id, name: call.name, content: "Transferred to \(handoff.agent.name).")
            return .handedOff(to: handoff.agent.name, results: [accepted])
        }
        if let inputCheck, calls.contains(where: { sideEffecting.contains($0.name) }), let trip = try await inputCheck.value {
            return .guardrailTripped(trip)
        }
        return nil
    }

    /// What the loop should hear about a completed answer, if anything but acceptance: the input
    /// guardrails' trip, or an output guardrail's retry or trip. Each output check runs in its own
    /// scope, `guardrail-<name>-<n>` for the answer of the loop's step n.
    func review(_ answer: String, step: Int, in context: RunContext) async throws -> AgentLoop.Event? {
        if let trip = try await inputCheck?.value { return .guardrailTripped(trip) }
        for guardrail in outputGuardrails {
            let scope = try context.scope("guardrail-\(Agent.scopeSafe(guardrail.name))-\(step)")
            let verdict = try await guardrail.check(answer, scope)
            let reason = verdict.reason ?? "no reason given"
            switch verdict.action {
            case .pass:
                continue
            case .trip:
                return .guardrailTripped(GuardrailTrip(guardrail: guardrail.name, stage: .output, reason: reason))
            case .retry:
                let allowed = retries.withLock { retries in
                    retries[guardrail.name, default: 0] += 1
                    return retries[guardrail.name, default: 0] <= guardrail.maxRetries
                }
                guard allowed else {
                    let spent = "\(reason) (after \(guardrail.maxRetries) \(guardrail.maxRetries == 1 ? "retry" : "retries"))"
                    return .guardrailTripped(GuardrailTrip(guardrail: guardrail.name, stage: .output, reason: spent))
                }
                return .answerRejected(reason: reason)
            }
        }
        return nil
    }
}

/// The check that an agent with handoffs does not say it hands off without calling the tool.
enum HandoffIntent {
    /// Phrases that promise a handoff, lowercased.
    static let phrases = [
        "transfer you", "transferring you", "hand you off", "hand you over", "handing you", "hand off to", "hand this off", "handing off",
        "handing this", "hand the conversation", "pass you to", "passing you to", "connect you with", "connect you to", "connecting you",
        "i'll transfer", "i will transfer", "let me transfer", "i'll hand", "i will hand", "let me hand",
    ]

    /// Whether `answer` promises a handoff.
    static func promisesHandoff(_ answer: String) -> Bool {
        let text = answer.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
        return phrases.contains { text.contains($0) }
    }

    static func guardrail(toolNames: [String]) -> OutputGuardrail {
        let tools = toolNames.joined(separator: ", ")
        return OutputGuardrail("handoff", maxRetries: 1) { answer in
            guard promisesHandoff(answer) else { return .pass }
            return .retry(
                "you said you would hand the conversation over but called no handoff tool. To hand off, call one of: \(tools). Otherwise answer the user yourself, without promising a transfer.")
        }
    }
}
