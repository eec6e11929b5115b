import Foundation
import KeelCore
import KeelRuntime
import KeelTesting
import Testing

/// A tool that counts its calls and echoes its arguments.
struct CountingTool: Sendable {
    let name: String
    let calls = Locked<[String]>([])

    var tool: AnyTool {
        let calls = self.calls
        let schema = JSONSchema(jsonValue: ["type": "object", "properties": ["amount": ["type": "number"], "to": ["type": "string"]]])
        return AnyTool(definition: ToolDefinition(name: name, description: "Test tool \(name).", parameters: schema), isSideEffecting: true) { arguments, _ in
            calls.withLock { $0.append(arguments.serialized()) }
            return "\(name) done with \(arguments.serialized())"
        }
    }

    var count: Int { calls.value.count }
}

/// The results the model read, in order.
func toolResults(_ result: AgentRunResult) -> [ToolResult] {
    result.transcript.messages.compactMap { message in
        if case .tool(let result) = message { return result }
        return nil
    }
}

/// One reply with calls of `tool` with each of `arguments`, then a final answer.
func callsThenAnswer(_ tool: String, _ arguments: [JSONValue]) -> ScriptedModel {
    let calls = arguments.enumerated().map { ToolCall(id: "c\($0.offset)", name: tool, arguments: $0.element.serialized()) }
    return ScriptedModel([.toolCalls(calls, text: nil), .text("done")])
}

@Suite(.timeLimit(.minutes(5))) struct ToolPolicyTests {
    func agent(_ model: any ChatModel, _ tool: CountingTool, _ governance: ToolGovernance, spend: SpendControls? = nil) -> Agent {
        var controls = AgentControls()
        controls.governance = governance
        controls.spend = spend
        var configuration = AgentConfiguration()
        configuration.toolConcurrency = 1
        return Agent(model: model, tools: [tool.tool], configuration: configuration, controls: controls)
    }

    @Test func aToolNeedsItsPermissionGranted() async throws {
        let transfer = CountingTool(name: "transfer")
        var governance = ToolGovernance(policies: ["transfer": ToolPolicy(permissions: [.write, .spend])], granted: [.read, .write])
        let refused = await agent(callsThenAnswer("transfer", [["amount": 5]]), transfer, governance).run("pay")
        #expect(refused.outcome == .completed(answer: "done"))
        #expect(toolResults(refused).map { $0.content } == ["Refused by policy: transfer needs the spend permission, which this agent has not been granted"])
        #expect(toolResults(refused).first?.isError == true)
        #expect(transfer.count == 0)

        governance.granted.insert(.spend)
        let allowed = await agent(callsThenAnswer("transfer", [["amount": 5]]), transfer, governance).run("pay")
        #expect(toolResults(allowed).map { $0.isError } == [false])
        #expect(transfer.count == 1)
    }

    @Test func argumentRulesRefuseWithTheirReason() async throws {
        let send = CountingTool(name: "send")
        var policy = ToolPolicy()
        policy.argumentRules = [
            .allow("/to", values: ["alice@example.com", "bob@example.com"]),
            .require("/amount", "at most 100") { ($0?.doubleValue ?? 0) <= 100 },
            ArgumentRule("no weekends in the memo") { $0["memo"]?.stringValue?.contains("weekend") == true ? "the memo may not mention weekends" : nil },
        ]
        let model = callsThenAnswer("send", [
            ["to": "alice@example.com", "amount": 10],
            ["to": "eve@example.com", "amount": 10],
            ["to": "bob@example.com", "amount": 500],
            ["to": "bob@example.com", "amount": 1, "memo": "for the weekend"],
        ])
        let result = await agent(model, send, ToolGovernance(policies: ["send": policy])).run("send")
        #expect(toolResults(result).map { $0.content } == [
            #"send done with {"amount":10,"to":"alice@example.com"}"#,
            #"Refused by policy: /to must be one of "alice@example.com", "bob@example.com", not "eve@example.com""#,
            "Refused by policy: /amount must be at most 100",
            "Refused by policy: the memo may not mention weekends",
        ])
        #expect(send.count == 1)
    }

    @Test func perRunQuotasAndRateLimitsCountAllowedCalls() async throws {
        let search = CountingTool(name: "search")
        var perRun = ToolPolicy()
        perRun.maxCallsPerRun = 2
        let result = await agent(callsThenAnswer("search", [["to": "a"], ["to": "b"], ["to": "c"]]), search, ToolGovernance(policies: ["search": perRun])).run("s")
        #expect(toolResults(result).map { $0.isError } == [false, false, true])
        #expect(toolResults(result).last?.content == "Refused by policy: search may be called at most 2 times in one run")

        let fetch = CountingTool(name: "fetch")
        var paced = ToolPolicy()
        paced.callsPerMinute = 2
        let governance = ToolGovernance(policies: ["fetch": paced])
        // The bucket is shared by the runs of one governance.
        let first = await agent(callsThenAnswer("fetch", [["to": "a"]]), fetch, governance).run("f")
        let second = await agent(callsThenAnswer("fetch", [["to": "b"], ["to": "c"]]), fetch, governance).run("f")
        #expect(toolResults(first).map { $0.isError } == [false])
        #expect(toolResults(second).map { $0.isError } == [false, true])
        #expect(toolResults(second).last?.content == "Refused by policy: fetch may be called at most 2 times a minute; try again later")
        #expect(fetch.count == 2)
    }

    @Test func aTenantsDailyQuotaHoldsAcrossRuns() async throws {
        let export = CountingTool(name: "export")
        var policy = ToolPolicy()
        policy.maxCallsPerTenantPerDay = 2
        var spend = SpendControls()
        spend.tenant = "acme"
        spend.ledger = InMemorySpendLedger()
        let governance = ToolGovernance(policies: ["export": policy])
        var outcomes: [Bool] = []
        for _ in 0..<3 {
            let result = await agent(callsThenAnswer("export", [["to": "x"]]), export, governance, spend: spend).run("e")
            outcomes += toolResults(result).map { $0.isError }
        }
        #expect(outcomes == [false, false, true])
        #expect(export.count == 2)
    }

    @Test func aCallThatWouldBreakTheBudgetIsRefused() async throws {
        let lookup = CountingTool(name: "lookup")
        var policy = ToolPolicy()
        policy.costPerCallUSD = 0.03
        var spend = SpendControls()
        spend.runBudget = Budget(maxCostUSD: 0.05)
        let result = await agent(callsThenAnswer("lookup", [["to": "a"], ["to": "b"]]), lookup, ToolGovernance(policies: ["lookup": policy]), spend: spend).run("l")
        #expect(toolResults(result).map { $0.isError } == [false, true])
        #expect(toolResults(result).last?.content.hasPrefix("Refused by policy: lookup costs $0.0300, which would break the run's budget") == true)
        #expect(lookup.count == 1)
    }

    @Test func approvalsInMemoryGoToTheApproverOrAreDenied() async throws {
        let transfer = CountingTool(name: "transfer")
        let policy = ToolPolicy(approval: .when("a transfer over 100") { ($0["amount"]?.doubleValue ?? 0) > 100 })
        var governance = ToolGovernance(policies: ["transfer": policy])

        // Nobody can approve: the large transfer is denied, the small one runs.
        let unattended = await agent(callsThenAnswer("transfer", [["amount": 50], ["amount": 500]]), transfer, governance).run("t")
        #expect(toolResults(unattended).map { $0.isError } == [false, true])
        #expect(toolResults(unattended).last?.content == "Denied by policy: this call needs approval (a transfer over 100), and nobody can approve in this run")
        #expect(transfer.calls.value == [#"{"amount":50}"#])

        // An approver sees the request and decides: edit the first, deny the second.
        let seen = Locked<[String]>([])
        governance.approver = { request in
            seen.withLock { $0.append("\(request.tool) \(request.arguments) \(request.reason)") }
            return request.arguments.contains("500") ? .approveWithArguments(#"{"amount":200}"#) : .deny(reason: "over the monthly limit")
        }
        let attended = await agent(callsThenAnswer("transfer", [["amount": 500], ["amount": 900]]), transfer, governance).run("t")
        #expect(seen.value == [#"transfer {"amount":500} a transfer over 100"#, #"transfer {"amount":900} a transfer over 100"#])
        #expect(toolResults(attended).map { $0.content } == [#"transfer done with {"amount":200}"#, "Denied by approver: over the monthly limit"])
        #expect(transfer.calls.value == [#"{"amount":50}"#, #"{"amount":200}"#])
    }

    /// Arguments a person edits at approval meet the same rules as the model's: an edit that breaks
    /// one is refused with the reason, and the call does not run.
    @Test func editedArgumentsAreCheckedAgainstTheRules() async throws {
        let transfer = CountingTool(name: "transfer")
        var policy = ToolPolicy(approval: .always)
        policy.argumentRules = [.allow("/to", values: ["alice", "bob"])]
        var governance = ToolGovernance(policies: ["transfer": policy])
        governance.approver = { request in
            request.arguments.contains("alice") ? .approveWithArguments(#"{"to":"mallory","amount":5}"#) : .approveWithArguments(#"{"to":"bob","amount":7}"#)
        }
        let result = await agent(callsThenAnswer("transfer", [["to": "alice", "amount": 5], ["to": "bob", "amount": 5]]), transfer, governance).run("t")
        #expect(toolResults(result).map(\.isError) == [true, false])
        #expect(toolResults(result).first?.content == "Refused by policy: the arguments approver approved break a rule: /to must be one of \"alice\", \"bob\", not \"mallory\"")
        #expect(transfer.calls.value == [#"{"amount":7,"to":"bob"}"#])
    }

    @Test func theAuditDigestIgnoresKeyOrderAndSpacing() {
        #expect(AuditRecord.digest(ofArguments: #"{"b": 2, "a": 1}"#) == AuditRecord.digest(ofArguments: #"{"a":1,"b":2}"#))
        #expect(AuditRecord.digest(ofArguments: #"{"a":1}"#) != AuditRecord.digest(ofArguments: #"{"a":2}"#))
        #expect(AuditRecord.digest(ofArguments: #"{"a":1}"#).count == 64)
    }
}
