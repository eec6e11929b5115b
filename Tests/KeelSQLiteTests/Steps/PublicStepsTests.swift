import Foundation
import KeelCore
import KeelSQLite
import KeelTesting
import Testing

@testable import KeelRuntime

/// Model and tool steps with every control, used by a workflow that is not an agent.
@Suite(.timeLimit(.minutes(5))) struct PublicStepsTests {
    /// Two drafts, each a model step under a token budget for the run; a retry policy with an
    /// `adjust` that lowers the temperature of attempt 2.
    struct Drafts: Workflow {
        let name = "drafts"
        let model: ScriptedModel
        func run(_ input: Int, context: RunContext) async throws -> [String] {
            var controls = AgentControls()
            controls.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1), adjust: { _, request in
                var cooler = request
                cooler.temperature = 0
                return cooler
            })
            var spend = SpendControls()
            spend.runBudget = Budget(maxTokens: input)
            controls.spend = spend
            var drafts: [String] = []
            for number in 1...2 {
                let request = ChatRequest(messages: [.user("Draft \(number) about tides.")], maxOutputTokens: 40, temperature: 0.9)
                let reply = try await context.model(model, request, name: "draft-\(number)", controls: controls)
                drafts.append(reply.message.text ?? "")
            }
            return drafts
        }
    }

    @Test func aModelStepRetriesWithAdjustMetersAndKeepsTheRunsBudget() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let model = ScriptedModel([.error(ModelError(.overloaded, message: "busy", statusCode: 529)), .text("one"), .text("two")])
        let workflow = Drafts(model: model)
        let done = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).start(workflow, input: 1_000, runID: "d")
        #expect(done.status == .completed)
        #expect(try done.output?.decode(as: [String].self) == ["one", "two"])
        let journal = try await store.journal(runID: "d")
        #expect(journal.map(\.name) == ["draft-1", "draft-2"])
        #expect(journal.map(\.attempts) == [2, 1], "the first draft took two attempts")
        #expect(journal.allSatisfy { $0.kind == .model && $0.metering != nil })
        #expect(model.requests.map(\.temperature) == [0.9, 0, 0.9], "attempt 2 was adjusted")

        // A budget that the first draft's worst case fits and, once the run has spent that draft,
        // the second's does not: refused before the call, counting what the run had spent.
        let tight = ScriptedModel([.text("one"), .text("two")])
        let worst = try SpendControls().worstUsage(of: ChatRequest(messages: [.user("Draft 1 about tides.")], maxOutputTokens: 40)).totalTokens
        let budget = worst
        let refused = try await DurableRuntime(store: store, workflows: [AnyWorkflow(Drafts(model: tight))]).start(Drafts(model: tight), input: budget, runID: "tight")
        #expect(refused.status == .failed)
        #expect(refused.failure?.code == "budget_exceeded", "\(String(describing: refused.failure))")
        #expect(tight.requests.count == 1, "the second call was never made")
    }

    /// A workflow's own tool calls, governed: one needs approval, the run waits, and resumed
    /// after the decision runs the edited call once, audited.
    struct Transfers: Workflow {
        let name = "transfers"
        let keys: Locked<[String]>
        func run(_ input: Int, context: RunContext) async throws -> [String] {
            var policy = ToolPolicy(approval: .when("over 100 euros") { ($0["amount"]?.intValue ?? 0) > 100 })
            policy.argumentRules = []
            var controls = AgentControls()
            controls.governance = ToolGovernance(policies: ["transfer": policy])
            let calls = [
                ToolCall(id: "small", name: "transfer", arguments: #"{"amount": 20}"#),
                ToolCall(id: "large", name: "transfer", arguments: #"{"amount": \#(input)}"#),
            ]
            let results = try await context.tools(calls, from: [AnyTool(Transfer(keys: keys))], controls: controls)
            return results.map(\.content)
        }
    }

    @Test func toolStepsAreGovernedAndWaitDurablyForApproval() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keys = Locked<[String]>([])
        let workflow = Transfers(keys: keys)
        let keel = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        let waiting = try await keel.start(workflow, input: 500, runID: "t")
        #expect(waiting.status == .waiting)
        #expect(keys.value == ["t:2"], "the call that needs no approval ran, with its key")
        let approval = try #require(try await store.approvals(runID: "t", status: .pending).first)
        _ = try await store.decideApproval(id: approval.request.id, decision: .approveWithArguments(#"{"amount": 150}"#), by: "alice")
        let done = try await keel.run("t")
        #expect(done.status == .completed)
        #expect(try done.output?.decode(as: [String].self) == ["moved 20", "moved 150"])
        #expect(keys.value == ["t:2", "t:5"], "each call ran once")
        let audit = try await store.auditLog(runID: "t", tool: "transfer", limit: nil).map { "\($0.record.action.rawValue) \($0.record.decision)" }
        #expect(audit.contains("approval approved with edited arguments \(AuditRecord.digest(ofArguments: #"{"amount": 150}"#))"), "\(audit)")
        #expect(audit.filter { $0.hasPrefix("call ") }.count == 2)
    }

    /// A workflow's own step that sends a message and audits it: the record is committed with the
    /// step, so a run that fails after it and is resumed replays the step without auditing again.
    struct Notify: Workflow {
        struct Down: Error {}
        let name = "notify"
        let failures: Locked<Int>
        func run(_ input: String, context: RunContext) async throws -> String {
            let sequence = context.reserveSequences(1).lowerBound
            let sent: String = try await context.step(at: sequence, "send", kind: .tool, retry: .none, effects: { (sent: String) in
                StepEffects(audit: [AuditRecord(
                    runID: context.runID, step: sequence, tool: "send", action: .call, argumentsDigest: nil, decision: "allowed", actor: "workflow",
                    outcome: sent)])
            }) { _ in "sent \(input)" }
            let fails = failures.withLock { count -> Bool in
                defer { count = max(0, count - 1) }
                return count > 0
            }
            _ = try await context.step("after") {
                if fails { throw Down() }
                return true
            }
            return sent
        }
    }

    @Test func aStepsEffectsAreCommittedWithItOnceAcrossAResume() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let workflow = Notify(failures: Locked(1))
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        #expect(try await runtime.start(workflow, input: "hello", runID: "n").status == .failed)
        #expect(try await store.auditLog(runID: "n", tool: "send", limit: nil).map(\.record.outcome) == ["sent hello"])
        _ = try await store.reopen(runID: "n")
        let done = try await runtime.run("n")
        #expect(done.status == .completed)
        #expect(try done.output?.decode(as: String.self) == "sent hello")
        #expect(try await store.auditLog(runID: "n", tool: "send", limit: nil).count == 1, "the replayed step audits nothing")
    }
}
