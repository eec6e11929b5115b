import Foundation
import GRDB
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// Durable human approval through real `keel` processes: one waits and is killed, another
/// approves, a third resumes; then the audit log is checked, and tampered with.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct ApprovalCommandTests {
    func folder() throws -> URL {
        try TemporaryFolder.make("keel-approvals")
    }

    static let multiplyThenAnswer: [ServerReply] = [
        .toolCalls([ToolCall(id: "call-1", name: "multiply", arguments: #"{"a":6,"b":7}"#)], usage: Usage(inputTokens: 40, outputTokens: 10)),
        .text("6 times 7 is 42.", usage: Usage(inputTokens: 60, outputTokens: 8)),
    ]

    @Test func aRunWaitsSurvivesSIGKILLIsApprovedElsewhereAndCompletes() async throws {
        let work = try folder()
        defer { try? FileManager.default.removeItem(at: work) }
        try await OpenAICompatibleServer.withServer(responder: .scripted(Self.multiplyThenAnswer)) { server in
            // 1. The agent waits for approval of `multiply`, and is killed while it waits.
            let waiting = try await KeelProcess.run(
                ["agent", "--db", "keel.db", "--run-id", "r", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL, "--tools", "calculator",
                 "--require-approval", "multiply", "--wait", "What is 6 times 7?"],
                killAfter: nil, killWhenPrinted: "waits: multiply", timeout: .seconds(60), directory: work)
            #expect(waiting.status == -SIGKILL, "\(waiting.stdout)\(waiting.stderr)")
            #expect(server.chatRequests.count == 1)

            // 2. The pending approval is listed, with the call's arguments.
            let listed = try await KeelProcess.run(["approvals", "--status", "pending", "--json"], killAfter: nil, directory: work)
            #expect(listed.status == 0, "\(listed.stderr)")
            let pending = try #require(try JSONValue(parsing: listed.stdout).arrayValue)
            #expect(pending.count == 1)
            let id = try #require(pending.first?["id"]?.stringValue)
            #expect(pending.first?["tool"] == "multiply")
            #expect(pending.first?["run"] == "r")
            #expect(waiting.stdout.contains("approval \(id) waits: multiply"))

            // 3. Another process approves it, with edited arguments.
            let approved = try await KeelProcess.run(["approve", id, "--by", "alice", "--args", #"{"a":6,"b":8}"#], killAfter: nil, directory: work)
            #expect(approved.status == 0, "\(approved.stderr)")
            #expect(approved.stdout.contains("approved \(id)"))
            let again = try await KeelProcess.run(["approve", id, "--by", "mallory"], killAfter: nil, directory: work)
            #expect(again.status != 0)
            #expect(again.stderrLines.count == 1)

            // 4. The run resumes and completes; the model read the result of the approved call.
            let resumed = try await KeelProcess.run(["runs", "resume", "r"], killAfter: nil, directory: work)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stdout.contains("run r is completed"))
            #expect(resumed.stdout.contains("\nanswer: "), "the answer, as keel agent prints it: \(resumed.stdout)")
            #expect(server.chatRequests.count == 2)
            let lastRequest = try #require(server.chatRequests.last?.json)
            let messages = try #require(lastRequest["messages"]?.arrayValue)
            #expect(messages.last?["role"] == "tool")
            #expect(messages.last?["content"] == "48")
            let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
            let result = try #require(try await store.run(id: "r")?.output?.decode(as: AgentRunResult.self))
            #expect(result.outcome == .completed(answer: "6 times 7 is 42."))

            // 5. The audit log holds the policy verdict, the decision and the call, and verifies.
            let audit = try await store.auditLog(runID: "r", tool: "multiply", limit: nil)
            #expect(audit.map { $0.record.action } == [.policy, .approval, .call])
            #expect(audit[1].record.actor == "alice")
            let verified = try await KeelProcess.run(["audit", "verify"], killAfter: nil, directory: work)
            #expect(verified.status == 0, "\(verified.stderr)")
            #expect(verified.stdout.hasPrefix("audit log intact: "))
            let head = try #require(verified.stdout.split(separator: " ").last.map(String.init)?.trimmingCharacters(in: .whitespacesAndNewlines))
            let stillHead = try await KeelProcess.run(["audit", "verify", "--expect-head", head], killAfter: nil, directory: work)
            #expect(stillHead.status == 0, "\(stillHead.stderr)")

            // 6. Someone edits an audit row behind Keel's back: verification fails.
            let database = try DatabaseQueue(path: work.appendingPathComponent("keel.db").path)
            try await database.write { db in
                try db.execute(sql: "DROP TRIGGER audit_append_only_update")
                try db.execute(sql: "UPDATE audit SET actor = 'mallory' WHERE action = 'approval'")
            }
            try database.close()
            let tampered = try await KeelProcess.run(["audit", "verify"], killAfter: nil, directory: work)
            #expect(tampered.status == 1)
            #expect(tampered.stderrLines.count == 1)
            #expect(tampered.stderr.contains("broken"), "\(tampered.stderr)")
        }
    }
}
