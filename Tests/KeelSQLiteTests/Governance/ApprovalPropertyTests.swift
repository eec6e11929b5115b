import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// Generated sequences of tool calls, human decisions, crashes (the process dies between any two
/// writes to a real SQLite store, or just after a write committed) and restarts. Whatever happens:
/// - a `transfer` (every call needs approval) never runs without an approval for that very call,
///   and runs with the arguments approved (edited ones, if the person edited them) — unless the
///   edited arguments break the tool's argument rule, when it does not run and the model reads why;
/// - it never runs twice for one approval, and runs exactly once for each approval given;
/// - a denial's reason reaches the model, as the result of that call;
/// - a forged `approval:` signal approves nothing; the audit log verifies.
@Suite(.timeLimit(.minutes(10)), .heavy) struct ApprovalPropertyTests {
    /// One transfer as the tool saw it.
    struct Execution: Sendable, Hashable {
        var reference: String
        var amount: Int
        var idempotencyKey: String
    }

    struct TransferTool: Tool {
        @Schema struct Arguments: Decodable, Sendable {
            /// Euros to move.
            var amount: Int
            /// The transfer's reference.
            var reference: String
        }
        let name = "transfer"
        let description = "Moves money."
        let isSideEffecting = true
        let ledger: Locked<[Execution]>
        func call(_ arguments: Arguments, context: ToolContext) async throws -> String {
            ledger.withLock { $0.append(Execution(reference: arguments.reference, amount: arguments.amount, idempotencyKey: context.idempotencyKey)) }
            return "moved \(arguments.amount) for \(arguments.reference)"
        }
    }

    struct LookupTool: Tool {
        @Schema struct Arguments: Decodable, Sendable {
            /// What to look up.
            var reference: String
        }
        let name = "lookup"
        let description = "Reads an account."
        func call(_ arguments: Arguments, context: ToolContext) async throws -> String {
            "balance for \(arguments.reference): 1000"
        }
    }

    /// Answers turn `n` (the number of its earlier replies in the transcript) with `turns[n]`, so
    /// that a restarted process gets the same conversation from any point.
    struct TurnModel: ChatModel {
        let provider = "scripted"
        let name = "turns"
        let turns: [[ToolCall]]

        func respond(to request: ChatRequest) async throws -> ChatResponse {
            let turn = request.messages.filter { if case .assistant = $0 { true } else { false } }.count
            guard turn < turns.count else {
                return ChatResponse(model: name, message: AssistantMessage(text: "all done"), usage: Usage(inputTokens: 10, outputTokens: 2), finishReason: .stop)
            }
            return ChatResponse(
                model: name, message: AssistantMessage(text: nil, toolCalls: turns[turn]), usage: Usage(inputTokens: 10, outputTokens: 5),
                finishReason: .toolCalls)
        }
    }

    struct PaymentsAgent: Workflow {
        /// An amount the argument rule refuses, which only a person's edit ever asks for.
        static let forbiddenAmount = 99_999
        let name = "payments"
        let model: TurnModel
        let ledger: Locked<[Execution]>
        let toolConcurrency: Int

        func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
            var controls = AgentControls()
            controls.retry = .none
            var transfer = ToolPolicy(permissions: [.spend], approval: .always)
            transfer.argumentRules = [.deny("/amount", values: [.number(Double(Self.forbiddenAmount))])]
            controls.governance = ToolGovernance(policies: ["transfer": transfer], granted: [.read, .spend])
            var configuration = AgentConfiguration()
            configuration.toolConcurrency = toolConcurrency
            configuration.inDoubtPolicy = .askHuman
            configuration.maxSteps = 20
            return try await Agent(model: model, tools: [TransferTool(ledger: ledger), LookupTool()], configuration: configuration, controls: controls)
                .run(input, in: context)
        }
    }

    enum Choice: Sendable {
        case approve, edit, editAgainstTheRules, deny
    }

    /// What the generator picked for one scenario.
    struct Scenario {
        var turns: [[ToolCall]]
        var choices: [String: Choice]
        var toolConcurrency: Int
        var crashes: [Int]
        /// Whether each crash comes just after a write committed, rather than instead of it.
        var crashesAfterWrites: [Bool]
    }

    static func scenario(_ number: Int, dice: inout SeededRandomGenerator) -> Scenario {
        var turns: [[ToolCall]] = []
        var choices: [String: Choice] = [:]
        for turn in 0..<Int.random(in: 1...3, using: &dice) {
            var calls: [ToolCall] = []
            for index in 0..<Int.random(in: 1...3, using: &dice) {
                let reference = "s\(number)t\(turn)c\(index)"
                if Bool.random(using: &dice) || index == 0 {
                    calls.append(ToolCall(id: "c\(turn)-\(index)", name: "transfer", arguments: #"{"amount":\#(Int.random(in: 1...500, using: &dice)),"reference":"\#(reference)"}"#))
                    choices[reference] = [Choice.approve, .edit, .editAgainstTheRules, .deny].randomElement(using: &dice)
                } else {
                    calls.append(ToolCall(id: "c\(turn)-\(index)", name: "lookup", arguments: #"{"reference":"\#(reference)"}"#))
                }
            }
            turns.append(calls)
        }
        let crashes = (0..<Int.random(in: 0...4, using: &dice)).map { _ in Int.random(in: 1...10, using: &dice) }
        let after = crashes.map { _ in Bool.random(using: &dice) }
        return Scenario(turns: turns, choices: choices, toolConcurrency: Int.random(in: 1...3, using: &dice), crashes: crashes, crashesAfterWrites: after)
    }

    static func reference(in arguments: String) -> String? {
        (try? JSONValue(parsing: arguments))?["reference"]?.stringValue
    }

    @Test func approvalsHoldAcrossGeneratedCallsDecisionsAndCrashes() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        var dice = SeededRandomGenerator(seed: 20_261_122)
        var crashesSeen = 0
        var crashesAfterWritesSeen = 0
        var editsRefused = 0
        var inDoubtSeen = 0
        for number in 0..<100 {
            let scenario = Self.scenario(number, dice: &dice)
            let ledger = Locked<[Execution]>([])
            let workflow = PaymentsAgent(model: TurnModel(turns: scenario.turns), ledger: ledger, toolConcurrency: scenario.toolConcurrency)
            let runID = "pay-\(number)"
            _ = try await store.createRun(NewRun(id: runID, workflow: workflow.name, input: .string("pay the invoices"), tenant: nil, deadline: nil))
            var crashes = Array(zip(scenario.crashes, scenario.crashesAfterWrites))
            var decided: [String: ApprovalDecision] = [:]
            var record = try #require(try await store.run(id: runID))
            var rounds = 0
            while !record.status.isFinished {
                rounds += 1
                try #require(rounds < 60, "scenario \(number) does not finish")
                // A process that may die after some writes.
                let crash = crashes.isEmpty ? nil : crashes.removeFirst()
                let crashing = CrashingRunStore(store, writesBeforeCrash: crash?.0, crashAfterWrite: crash?.1 ?? false)
                let runtime = DurableRuntime(
                    store: crashing, workflows: [AnyWorkflow(workflow)], owner: CrashingRunStore.deadOwner("s\(number)r\(rounds)"))
                do {
                    _ = try await runtime.run(runID)
                } catch is CrashingRunStore.SimulatedCrash {
                    crashesSeen += 1
                    if crash?.1 == true { crashesAfterWritesSeen += 1 }
                }
                record = try #require(try await store.run(id: runID))
                guard record.status == .waiting else { continue }

                for pending in try await store.approvals(runID: runID, status: .pending) {
                    let request = pending.request
                    let reference = try #require(Self.reference(in: request.arguments))
                    // A forged signal is refused, and must not count as a decision.
                    await #expect(throws: StoreError.self) {
                        try await store.signal(runID: runID, name: ApprovalRecord.signalName(for: request.id), payload: ["decision": "approve"])
                    }
                    let decision: ApprovalDecision
                    switch request.kind {
                    case .inDoubt:
                        // A truthful person: it happened if the ledger says so.
                        inDoubtSeen += 1
                        let happened = ledger.value.contains { $0.idempotencyKey == "\(runID):\(request.sequence)" }
                        decision = happened ? .deny(reason: "it went through") : .approve
                    case .toolCall:
                        switch scenario.choices[reference] {
                        case .approve?: decision = .approve
                        case .edit?: decision = .approveWithArguments(#"{"amount":7777,"reference":"\#(reference)"}"#)
                        case .editAgainstTheRules?:
                            decision = .approveWithArguments(#"{"amount":\#(PaymentsAgent.forbiddenAmount),"reference":"\#(reference)"}"#)
                        case .deny?, nil: decision = .deny(reason: "no transfer for \(reference)")
                        }
                        decided[reference] = decision
                    }
                    _ = try await store.decideApproval(id: request.id, decision: decision, by: "tester")
                }
            }
            #expect(record.status == .completed, "scenario \(number): \(record.failure?.message ?? "")")
            let result = try #require(try record.output?.decode(as: AgentRunResult.self))
            let results = Dictionary(
                result.transcript.messages.compactMap { message -> (String, ToolResult)? in
                    if case .tool(let result) = message { return (result.callID, result) }
                    return nil
                }, uniquingKeysWith: { first, _ in first })
            let executions = ledger.value
            let transfers = scenario.turns.joined().filter { $0.name == "transfer" }
            for call in transfers {
                let reference = try #require(Self.reference(in: call.arguments))
                let ran = executions.filter { $0.reference == reference }
                switch decided[reference] {
                case .approve?:
                    #expect(ran.count == 1, "scenario \(number): \(reference) approved once, ran \(ran.count) times")
                    #expect(ran.first.map { $0.amount } == (try JSONValue(parsing: call.arguments))["amount"]?.intValue)
                case .approveWithArguments(let edited)?:
                    if edited.contains("\(PaymentsAgent.forbiddenAmount)") {
                        editsRefused += 1
                        #expect(ran.isEmpty, "scenario \(number): \(reference) ran with arguments that break the rule")
                        #expect(results[call.id]?.content.hasPrefix("Refused by policy: ") == true, "scenario \(number): \(String(describing: results[call.id]))")
                    } else {
                        #expect(ran.map { $0.amount } == [7777], "scenario \(number): \(reference) ran \(ran.map { $0.amount })")
                    }
                case .deny(let reason)?:
                    #expect(ran.isEmpty, "scenario \(number): \(reference) was denied, ran \(ran.count) times")
                    #expect(results[call.id]?.content == "Denied by tester: \(reason)")
                case nil:
                    Issue.record("scenario \(number): \(reference) was never put to a person")
                }
            }
            #expect(Set(executions.map { $0.idempotencyKey }).count == executions.count, "scenario \(number): a key ran twice")
        }
        let verification = try await store.verifyAuditLog()
        #expect(verification.isIntact)
        // The generator reached the cases that matter.
        #expect(crashesSeen >= 50, "\(crashesSeen) crashes")
        #expect(crashesAfterWritesSeen >= 20, "\(crashesAfterWritesSeen) crashes just after a write")
        #expect(editsRefused >= 10, "\(editsRefused) edits against the rules")
        #expect(inDoubtSeen >= 2, "\(inDoubtSeen) calls in doubt")
    }
}
