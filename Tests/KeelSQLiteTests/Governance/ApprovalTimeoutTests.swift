import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

/// What happens to an approval nobody decides in time, in a durable run on SQLite. A zero time
/// limit makes the request late as soon as it is made, so nothing sleeps.
@Suite(.timeLimit(.minutes(5))) struct ApprovalTimeoutTests {
    struct Deleter: Workflow {
        let name = "deleter"
        let onTimeout: ApprovalTimeoutPolicy
        let alerts: RecordingHook
        let calls: Locked<Int>
        /// Shared by the processes of one test: a replayed reply is not asked for again.
        let model = ScriptedModel([.toolCall("delete_user", arguments: ["id": 7], id: "d1"), .text("could not delete")])

        func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
            let calls = self.calls
            let delete = AnyTool(
                definition: ToolDefinition(name: "delete_user", description: "Deletes a user.", parameters: JSONSchema(jsonValue: ["type": "object"])),
                isSideEffecting: true
            ) { _, _ in
                calls.withLock { $0 += 1 }
                return "deleted"
            }
            var policy = ToolPolicy(permissions: [.write], approval: .always)
            policy.approvalTimeout = .zero
            policy.onApprovalTimeout = onTimeout
            var governance = ToolGovernance(policies: ["delete_user": policy], granted: [.write])
            governance.alerts = alerts
            var controls = AgentControls()
            controls.governance = governance
            controls.retry = .none
            return try await Agent(model: model, tools: [delete], controls: controls).run(input, in: context)
        }
    }

    func run(_ onTimeout: ApprovalTimeoutPolicy) async throws -> (SQLiteRunStore, RunRecord, Deleter) {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let alerts = RecordingHook()
        let calls = Locked(0)
        let workflow = Deleter(onTimeout: onTimeout, alerts: alerts, calls: calls)
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).start(workflow, input: "delete user 7", runID: "del")
        return (store, record, workflow)
    }

    @Test func denyTellsTheModelAndAudits() async throws {
        let (store, record, workflow) = try await run(.deny)
        let calls = workflow.calls
        #expect(record.status == .completed)
        #expect(calls.value == 0)
        let result = try #require(try record.output?.decode(as: AgentRunResult.self))
        let denial = result.transcript.messages.compactMap { message -> ToolResult? in
            if case .tool(let result) = message { return result }
            return nil
        }
        #expect(denial.map { $0.content } == ["Denied by policy: nobody decided within the approval's time limit"])
        #expect(try await store.approvals(runID: "del", status: .expired).count == 1)
        #expect(try await store.auditLog(runID: "del", tool: "delete_user", limit: nil).map { $0.record.decision }.contains("denied: timed out"))
    }

    @Test func failPutsTheRunInTheDeadLetterQueue() async throws {
        let (store, record, workflow) = try await run(.fail)
        let calls = workflow.calls
        #expect(record.status == .failed)
        #expect(record.failure?.code == "approval_timed_out")
        #expect(calls.value == 0)
        #expect(try await store.deadLetters(includeResolved: false, limit: 10).map { $0.runID } == ["del"])
    }

    @Test func escalateAlertsAndKeepsWaitingForAPerson() async throws {
        let (store, record, workflow) = try await run(.escalate)
        let (alerts, calls) = (workflow.alerts, workflow.calls)
        #expect(record.status == .waiting)
        #expect(alerts.alerts.value.map { $0.kind } == [.approvalEscalated])
        let escalated = try await store.approvals(runID: "del", status: .escalated)
        #expect(escalated.count == 1)
        // A person can still decide; the call runs once.
        _ = try await store.decideApproval(id: try #require(escalated.first?.request.id), decision: .approve, by: "oncall")
        let done = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).run("del")
        #expect(done.status == .completed)
        #expect(calls.value == 1)
        #expect(alerts.alerts.value.count == 1)
    }
}
