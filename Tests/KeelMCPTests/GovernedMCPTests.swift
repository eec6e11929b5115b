import Foundation
import KeelCore
import KeelMCP
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// An MCP tool under a policy, in a durable run on SQLite: the call waits for a person, who edits
/// its arguments; the server moves the money once, with the edited amount.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPython) struct GovernedMCPTests {
    struct Payer: Workflow {
        let name = "payer"
        let model: any ChatModel
        let server: MCPServer

        func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
            try await MCPToolsets.withTools([server]) { tools in
                var controls = AgentControls()
                var transfer = ToolPolicy(permissions: [.spend], approval: .when("a transfer over 20") { ($0["amount"]?.doubleValue ?? 0) > 20 })
                transfer.argumentRules = [.allow("/account", values: ["ES-1", "ES-9"])]
                controls.governance = ToolGovernance(policies: ["transfer": transfer], defaultPolicy: ToolPolicy(), granted: [.spend])
                return try await Agent(model: model, tools: tools, controls: controls).run(input, in: context)
            }
        }
    }

    @Test func anMCPTransferWaitsForApprovalAndRunsOnceWithTheEditedArguments() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let store = try SQLiteRunStore(path: scratch.file("keel.db").path)
        let server = try await TestMCPServer.stdio(ledger: scratch.file("ledger"))
        let model = ScriptedModel([
            .toolCalls([
                ToolCall(id: "t1", name: "transfer", arguments: #"{"account":"ES-9","amount":100}"#),
                ToolCall(id: "t2", name: "transfer", arguments: #"{"account":"XX-0","amount":5}"#),
                ToolCall(id: "t3", name: "transfer", arguments: #"{"account":"ES-1","amount":5}"#),
            ], text: nil),
            .text("paid"),
        ])
        let payer = Payer(model: model, server: server)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(payer)])

        let waiting = try await runtime.start(payer, input: "pay the suppliers", runID: "pay")
        #expect(waiting.status == .waiting)
        // The small transfer to an allowed account ran; the one to an unknown account was refused.
        #expect(scratch.lines("ledger") == ["ES-1 5.0"])
        let pending = try await store.approvals(runID: "pay", status: .pending)
        #expect(pending.map { $0.request.tool } == ["transfer"])
        #expect(pending.first?.request.reason == "a transfer over 20")

        let id = try #require(pending.first?.request.id)
        _ = try await store.decideApproval(id: id, decision: .approveWithArguments(#"{"account":"ES-9","amount":50}"#), by: "treasurer")
        let done = try await runtime.run("pay")
        #expect(done.status == .completed)
        #expect(scratch.lines("ledger") == ["ES-1 5.0", "ES-9 50.0"])
        // Running the finished run again moves nothing.
        _ = try await runtime.run("pay")
        #expect(scratch.lines("ledger").count == 2)

        let result = try #require(try done.output?.decode(as: AgentRunResult.self))
        let contents = result.transcript.messages.compactMap { message -> String? in
            if case .tool(let result) = message { return result.content }
            return nil
        }
        #expect(contents == [
            "transferred 50.00 to ES-9",
            #"Refused by policy: /account must be one of "ES-1", "ES-9", not "XX-0""#,
            "transferred 5.00 to ES-1",
        ])
        let audit = try await store.auditLog(runID: "pay", tool: "transfer", limit: nil)
        #expect(audit.filter { $0.record.action == .call }.count == 3)
        #expect(audit.contains { $0.record.action == .approval && $0.record.actor == "treasurer" })
        #expect(try await store.verifyAuditLog().isIntact)
    }
}
