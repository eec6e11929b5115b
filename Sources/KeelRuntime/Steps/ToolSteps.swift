import Foundation
import KeelCore
import Logging
import Tracing

/// The governed tool calls of a run: what an ``Agent`` does with the calls of a reply, and what
/// ``RunContext/tools(_:from:controls:configuration:transcript:)`` offers any workflow.
final class ToolSteps: Sendable {
    let tools: [AnyTool]
    let controls: AgentControls
    let configuration: AgentConfiguration
    let clock: any Clock<Duration>
    let logger: Logger
    /// The executor that runs the calls, made once for every reply of a run.
    let toolExecutor: ToolExecutor
    /// The tools that change the world (journaled as started before they run).
    let sideEffecting: Set<String>

    init(tools: [AnyTool], controls: AgentControls, configuration: AgentConfiguration, clock: any Clock<Duration>, logger: Logger) {
        self.tools = tools
        self.controls = controls
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        var executor = ToolExecutor(tools: tools, timeout: configuration.toolTimeout, concurrency: configuration.toolConcurrency, clock: clock, logger: logger)
        executor.maximumResultCharacters = configuration.maxToolResultCharacters
        toolExecutor = executor
        sideEffecting = Set(tools.filter(\.isSideEffecting).map(\.name))
    }


    /// Runs one reply's tool calls.
    ///
    /// 1. Without governance each call is one step (a side-effecting tool's is journaled as started
    ///    first, and gets the idempotency key `run id:position`).
    /// 2. With governance each call holds three positions, reserved in call order: the policy
    ///    verdict (permission, argument rules, rate limit and quotas, budget — checked one call
    ///    after another, in order), the approval wait (used when the verdict asks for one), and the
    ///    call itself. Each is journaled with its audit entry in the same transaction.
    /// 3. Approvals and calls then run in parallel, at most ``AgentConfiguration/toolConcurrency``
    ///    at a time, answered from the caches where allowed.
    func run(_ calls: [ToolCall], transcript: Transcript, context: RunContext, runSpent: inout Spend) async throws -> [ToolResult] {
        // The controls stay where they are (a large value): the closures below read them through
        // `self`.
        let governance = controls.governance
        let isGoverned = governance != nil
        let runID = context.runID
        let slots = isGoverned ? 3 : 1
        // The positions are consecutive: call `index` holds `slots` of them, from its first.
        let first = context.reserveSequences(calls.count * slots).lowerBound
        func position(_ index: Int, _ slot: Int) -> Int { first + index * slots + slot }

        // 1. Each call's flow starts; a governed call's policy is checked, in call order.
        var pendingCalls: [PendingCall] = []
        pendingCalls.reserveCapacity(calls.count)
        var allowedSoFar = governance == nil ? [:] : Self.allowedCallCounts(in: transcript)
        for (index, call) in calls.enumerated() {
            var flow = ToolCallFlow(call: call, isGoverned: isGoverned, policy: governance?.policy(for: call.name))
            var action = flow.start()
            var costUSD: Double?
            if case .checkPolicy = action, let governance {
                let spentSoFar = runSpent
                let counts = allowedSoFar
                let evaluate = { await self.evaluate(call, governance: governance, runID: runID, runSpent: spentSoFar, allowedCalls: counts) }
                let audit = { (verdict: PolicyVerdict) in
                    StepEffects(audit: [AuditRecord(
                        runID: runID, step: position(index, 0), tool: call.name, action: .policy, argumentsDigest: AuditRecord.digest(ofArguments: call.arguments),
                        decision: verdict.refusal.map { "refused: \($0)" } ?? verdict.approvalReason.map { "needs approval: \($0)" } ?? "allowed", actor: "policy")])
                }
                let verdict = try await context.step(at: position(index, 0), "policy-\(call.name)-\(call.id)", retry: .none, effects: audit) { _ in
                    await evaluate()
                }
                if verdict.refusal == nil {
                    allowedSoFar[call.name, default: 0] += 1
                    if let cost = verdict.costUSD { runSpent += Spend(costUSD: cost) }
                }
                costUSD = verdict.costUSD
                action = flow.handle(.verdict(verdict))
            }
            pendingCalls.append(PendingCall(
                flow: flow, action: action, costUSD: costUSD, approvalPosition: position(index, isGoverned ? 1 : 0),
                callPosition: position(index, isGoverned ? 2 : 0)))
        }

        // 2. Approvals and calls, in parallel.
        // The run's earlier results are gathered only when a call here may be answered from
        // them: it is a walk over the whole transcript, which grows with every step.
        let earlier = calls.contains { controls.caching(for: $0.name) == .perRun } ? Agent.successfulResults(in: transcript) : [:]
        let results = try await concurrentMap(pendingCalls, limit: configuration.toolConcurrency) { _, pending -> ToolResult? in
            do {
                return try await self.perform(pending, context: context, earlier: earlier)
            } catch is RunSuspension {
                // The others run on, so that every approval this reply needs is asked for at once
                // and the calls that need none are done before the run waits.
                return nil
            }
        }
        if results.contains(where: { $0 == nil }) {
            throw context.suspend(RunSuspension(wakeAt: nil, waitingFor: []))
        }
        return results.compactMap { $0 }
    }

    /// One call after its verdict: its flow, the flow's next action, what the verdict says the
    /// call costs, and the positions of its approval wait (a governed call's) and of the call itself.
    private struct PendingCall: Sendable {
        var flow: ToolCallFlow
        var action: ToolCallFlow.Action
        var costUSD: Double?
        var approvalPosition: Int
        var callPosition: Int
    }

    /// Performs one call's flow from its next action on.
    private func perform(_ pending: PendingCall, context: RunContext, earlier: [String: String]) async throws -> ToolResult {
        var flow = pending.flow
        var action = pending.action
        let call = flow.call
        while true {
            switch action {
            case .checkPolicy:
                // Every governed call's verdict is journaled, in order, before any runs.
                action = flow.handle(.verdict(PolicyVerdict(refusal: "its policy was not checked")))
            case .askApproval(let reason):
                let outcome = try await approve(
                    call, reason: reason, policy: flow.policy, runID: context.runID, sequence: pending.approvalPosition, context: context)
                action = flow.handle(.decided(outcome))
            case .record(let result, let decision):
                let recorded = try await context.step(
                    at: pending.callPosition, "tool-\(call.name)-\(call.id)", kind: .tool, retry: .none,
                    effects: { [position = pending.callPosition, cost = pending.costUSD] in
                        audit($0, of: call, decision: decision, arguments: call.arguments, at: position, costUSD: cost, runID: context.runID)
                    }
                ) { _ in result }
                action = flow.handle(.recorded(recorded))
            case .run(let approvedCall, let decision):
                let result = try await run(
                    approvedCall, decision: decision, of: call, at: pending.callPosition, costUSD: pending.costUSD, context: context, earlier: earlier)
                action = flow.handle(.ran(result))
            case .finish(let result):
                return result
            }
        }
    }

    /// The audit of a call that ran or was recorded: the arguments it ran with, which an approver
    /// may have edited.
    private func audit(
        _ result: ToolResult, of call: ToolCall, decision: String, arguments: String, at position: Int, costUSD: Double?, runID: String
    ) -> StepEffects {
        guard controls.governance != nil else { return .none }
        return StepEffects(audit: [AuditRecord(
            runID: runID, step: position, tool: call.name, action: .call, argumentsDigest: AuditRecord.digest(ofArguments: arguments),
            decision: decision, actor: "agent", outcome: result.isError ? "error: \(result.content.prefix(200))" : "ok",
            costUSD: result.isError ? nil : costUSD)])
    }

    /// Runs the call as its step: journaled as started first when the tool changes the world.
    private func run(
        _ approvedCall: ToolCall, decision: String, of call: ToolCall, at sequence: Int, costUSD: Double?, context: RunContext,
        earlier: [String: String]
    ) async throws -> ToolResult {
        let runID = context.runID
        let name = "tool-\(approvedCall.name)-\(approvedCall.id)"
        if !sideEffecting.isEmpty, sideEffecting.contains(approvedCall.name) {
            return try await context.sideEffect(
                at: sequence, name, kind: .tool, isSideEffecting: true, inDoubt: configuration.inDoubtPolicy, arguments: approvedCall.arguments,
                effects: { audit($0, of: call, decision: decision, arguments: approvedCall.arguments, at: sequence, costUSD: costUSD, runID: runID) },
                confirmedDone: { record in
                    ToolResult(
                        callID: approvedCall.id, name: approvedCall.name,
                        content: "\(record.decidedBy ?? "A person") confirmed that the earlier call completed before the process stopped.")
                }
            ) { key in try await execute(approvedCall, key: key, at: sequence, earlier: earlier, decision: decision, context: context) }
        }
        return try await context.step(
            at: sequence, name, kind: .tool, retry: .none,
            effects: { audit($0, of: call, decision: decision, arguments: approvedCall.arguments, at: sequence, costUSD: costUSD, runID: runID) }
        ) { _ in try await execute(approvedCall, key: context.idempotencyKey(sequence), at: sequence, earlier: earlier, decision: decision, context: context) }
    }

    /// ``perform(_:key:runID:earlier:)`` in an `execute_tool` span, when the run is traced, and
    /// counted and timed, when metrics are recorded.
    private func execute(
        _ call: ToolCall, key: String, at sequence: Int, earlier: [String: String], decision: String, context: RunContext
    ) async throws -> ToolResult {
        let (runID, metrics) = (context.runID, context.metrics)
        return try await traced(context.tracer, "execute_tool \(call.name)") { span in
            span?.attributes[SpanName.operation] = "execute_tool"
            span?.attributes[SpanName.toolName] = call.name
            span?.attributes[SpanName.toolCallID] = call.id
            span?.attributes[SpanName.decision] = decision
            span?.attributes[SpanName.runID] = runID
            let started = metrics == nil ? nil : ContinuousClock.now
            let result = try await ToolCallSite.$current.withValue(ToolCallSite(context: context, position: sequence)) {
                try await perform(call, key: key, runID: runID, earlier: earlier)
            }
            if let started { metrics?.toolCall(call.name, isError: result.isError, duration: ContinuousClock.now - started) }
            if result.isError { span?.setStatus(SpanStatus(code: .error, message: "the tool call failed")) }
            if result.isCacheHit { span?.attributes["keel.cache_hit"] = true }
            return result
        }
    }

    /// One call, from the caches where allowed. Throws only what a tool that runs steps lets
    /// through (``KeelCore/AnyTool/runsSteps``).
    private func perform(_ call: ToolCall, key: String, runID: String?, earlier: [String: String]) async throws -> ToolResult {
        let caching = controls.caching(for: call.name)
        // Canonical JSON of the arguments: worked out only for a tool that is cached.
        let cacheKey = caching == .none ? "" : toolCacheKey(call)
        switch caching {
        case .none:
            break
        case .perRun:
            if let hit = earlier[cacheKey] { return ToolResult(callID: call.id, name: call.name, content: hit, isCacheHit: true) }
        case .shared:
            if let hit = await controls.toolCache.result(for: cacheKey) {
                return ToolResult(callID: call.id, name: call.name, content: hit, isCacheHit: true)
            }
        }
        let result = try await toolExecutor.result(of: call, context: ToolContext(callID: call.id, toolName: call.name, idempotencyKey: key, runID: runID))
        if case .shared(let timeToLive) = caching, !result.isError {
            await controls.toolCache.store(result.content, for: cacheKey, timeToLive: timeToLive)
        }
        return result
    }

    /// The policy checks of one call, in order: permission, argument rules, rate limit, quotas,
    /// budget, and whether it needs approval.
    private func evaluate(_ call: ToolCall, governance: ToolGovernance, runID: String, runSpent: Spend, allowedCalls: [String: Int]) async -> PolicyVerdict {
        guard let policy = governance.policy(for: call.name) else { return PolicyVerdict() }
        // Arguments that are not JSON are refused later by the tool's own checks.
        let arguments = (try? JSONValue(parsing: call.arguments.isEmpty ? "{}" : call.arguments)) ?? .object([:])
        let missing = policy.permissions.subtracting(governance.granted)
        if !missing.isEmpty {
            let names = missing.map(\.rawValue).sorted().joined(separator: ", ")
            return PolicyVerdict(refusal: "\(call.name) needs the \(names) permission, which this agent has not been granted")
        }
        for rule in policy.argumentRules {
            if let reason = rule.check(arguments) { return PolicyVerdict(refusal: reason) }
        }
        if let limit = policy.callsPerMinute {
            let limiter = governance.rateLimiters.limiter(for: call.name, perMinute: limit)
            guard limiter.tryTake() else { return PolicyVerdict(refusal: "\(call.name) may be called at most \(limit) times a minute; try again later") }
        }
        if let limit = policy.maxCallsPerRun, allowedCalls[call.name, default: 0] >= limit {
            return PolicyVerdict(refusal: "\(call.name) may be called at most \(limit) times in one run")
        }
        let spend = controls.spend
        if let limit = policy.maxCallsPerTenantPerDay, let tenant = spend?.tenant {
            let key = "tool:\(call.name):\(SpendScope.tenant(tenant, on: Date()).key)"
            let ledger = spend?.ledger ?? InMemorySpendLedger()
            guard (try? await ledger.consumeQuota(key, limit: limit)) == true else {
                return PolicyVerdict(refusal: "\(call.name) may be called at most \(limit) times a day by \(tenant); today's quota is used")
            }
        }
        if let cost = policy.costPerCallUSD, let spend {
            let amount = Spend(costUSD: cost)
            if let runBudget = spend.runBudget, !runBudget.allows(amount, after: runSpent) {
                return PolicyVerdict(refusal: "\(call.name) costs \(String(format: "$%.4f", cost)), which would break the run's budget of \(runBudget)")
            }
            if let tenant = spend.tenant, let cap = spend.tenantDailyBudget {
                switch (try? await spend.ledger.reserve(amount, in: .tenant(tenant, on: Date()), cap: cap, ttl: spend.reservationLifetime)) {
                case .success(let reservation)?:
                    try? await spend.ledger.settle(reservation, actual: amount)
                case .failure(let refusal)?:
                    return PolicyVerdict(refusal: "\(call.name) costs \(String(format: "$%.4f", cost)), which would break \(refusal.scope)'s budget of \(cap)")
                case nil:
                    return PolicyVerdict(refusal: "\(call.name)'s cost could not be held against the tenant's budget")
                }
            }
        }
        return PolicyVerdict(refusal: nil, approvalReason: policy.approval.reason(for: arguments, tool: call.name), costUSD: policy.costPerCallUSD)
    }

    /// The reason the first argument rule of `policy` that `arguments` break gives, if any;
    /// arguments that are not a JSON object break the rules by themselves.
    static func ruleBroken(by arguments: String, policy: ToolPolicy?) -> String? {
        guard let policy, !policy.argumentRules.isEmpty else { return nil }
        guard let json = try? JSONValue(parsing: arguments.isEmpty ? "{}" : arguments), json.objectValue != nil else {
            return "the arguments are not a JSON object"
        }
        return policy.argumentRules.lazy.compactMap { $0.check(json) }.first
    }

    /// Waits durably for a person's decision on a call (a run kept in memory has it decided by
    /// the governance's approver, or denied; see `InMemoryRun`).
    private func approve(
        _ call: ToolCall, reason: String, policy: ToolPolicy?, runID: String, sequence: Int, context: RunContext
    ) async throws -> ApprovalOutcome {
        // The time limit runs on the store's clock, which every worker that resumes the run shares.
        let now = try await context.store.currentTime()
        let request = ApprovalRequest(
            id: context.idempotencyKey(sequence), kind: .toolCall, runID: runID, sequence: sequence, tool: call.name, arguments: call.arguments, reason: reason,
            expiresAt: policy?.approvalTimeout.map { now.addingTimeInterval($0.timeInterval) },
            onTimeout: policy?.onApprovalTimeout ?? .deny)
        return try await context.approval(at: sequence, request, alerts: controls.governance?.alerts ?? LogAlertHook())
    }

    /// How many calls of each tool earlier steps made that a policy did not refuse.
    static func allowedCallCounts(in transcript: Transcript) -> [String: Int] {
        var counts: [String: Int] = [:]
        for case .tool(let result) in transcript.messages where !result.content.hasPrefix(ToolCallFlow.refusalPrefix) {
            counts[result.name, default: 0] += 1
        }
        return counts
    }
}
