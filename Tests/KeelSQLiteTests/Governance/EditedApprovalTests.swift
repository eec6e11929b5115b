import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

/// Arguments edited at approval in a durable run: checked against the rules, and audited as they
/// ran.
@Suite(.timeLimit(.minutes(5))) struct EditedApprovalTests {
    struct Payer: Workflow {
        let name = "payer"
        let paid: Locked<[String]>
        let model = ScriptedModel([.toolCall("transfer", arguments: ["to": "alice", "amount": 5], id: "t1"), .text("done")])

        func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
            let paid = self.paid
            let transfer = AnyTool(
                definition: ToolDefinition(name: "transfer", description: "Moves money.", parameters: JSONSchema(jsonValue: ["type": "object"])),
                isSideEffecting: true
            ) { arguments, _ in
                paid.withLock { $0.append(arguments.serialized()) }
                return "sent"
            }
            var policy = ToolPolicy(approval: .always)
            policy.argumentRules = [.allow("/to", values: ["alice", "bob"])]
            var controls = AgentControls()
            controls.governance = ToolGovernance(policies: ["transfer": policy])
            return try await Agent(model: model, tools: [transfer], controls: controls).run(input, in: context)
        }
    }

    func decide(_ edited: String) async throws -> (SQLiteRunStore, RunRecord, [String]) {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let paid = Locked<[String]>([])
        let workflow = Payer(paid: paid)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        let waiting = try await runtime.start(workflow, input: "pay alice", runID: "pay")
        #expect(waiting.status == .waiting)
        let approval = try #require(try await store.approvals(runID: "pay", status: .pending).first)
        _ = try await store.decideApproval(id: approval.request.id, decision: .approveWithArguments(edited), by: "carol")
        let record = try await runtime.run("pay")
        return (store, record, paid.value)
    }

    @Test func anEditThatBreaksARuleIsRefused() async throws {
        let (store, record, paid) = try await decide(#"{"to":"mallory","amount":5}"#)
        #expect(record.status == .completed)
        #expect(paid.isEmpty)
        let audit = try await store.auditLog(runID: "pay", tool: "transfer", limit: nil)
        #expect(audit.contains { $0.record.decision.hasPrefix("refused: edited arguments") })
        #expect(try await store.verifyAuditLog().isIntact)
    }

    @Test func theAuditHoldsTheArgumentsThatRan() async throws {
        let edited = #"{"to":"bob","amount":7}"#
        let (store, record, paid) = try await decide(edited)
        #expect(record.status == .completed)
        #expect(paid == [#"{"amount":7,"to":"bob"}"#])
        let call = try #require(try await store.auditLog(runID: "pay", tool: "transfer", limit: nil).last { $0.record.action == .call })
        #expect(call.record.argumentsDigest == AuditRecord.digest(ofArguments: edited))
        #expect(call.record.argumentsDigest != AuditRecord.digest(ofArguments: #"{"to":"alice","amount":5}"#))
    }
}
