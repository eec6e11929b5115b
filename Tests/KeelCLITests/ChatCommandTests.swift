import Foundation
import KeelApp
import KeelCore
import KeelTestSupport
import KeelTesting
import Testing

@Suite(.timeLimit(.minutes(3)))
struct ChatCommandTests {
    /// `keel chat` killed with SIGKILL mid-turn: the next `keel chat` on the session resumes that
    /// turn instead of asking another, and the turn after sees both.
    @Test func aTurnKilledMidwayIsResumedAndTheConversationGoesOn() async throws {
        let work = try TemporaryFolder.make("keel-chat")
        let db = work.appendingPathComponent("keel.db").path
        try await OpenAICompatibleServer.withServer(responder: .model(SlowedModel(inner: ReportWriterModel(), delay: .seconds(2)))) { server in
            func chat(_ prompt: String, killWhen: (@Sendable () -> Bool)? = nil) async throws -> KeelProcess.Output {
                try await KeelProcess.run(
                    ["chat", "--session", "s1", "--tenant", "acme", "--user", "ann", "--model", "openai:writer", "--base-url", server.baseURL, "--db", db, prompt],
                    killAfter: nil, killWhen: killWhen, timeout: .seconds(60), directory: work)
            }
            // Killed while the model is answering (the server has the request; it answers in 2 s).
            let killed = try await chat("Hi, I am Ann.", killWhen: { server.chatRequests.count == 1 })
            #expect(killed.status == -SIGKILL)
            let held = try await KeelProcess.run(["sessions", "list", "--tenant", "acme", "--user", "ann", "--db", db], killAfter: nil, timeout: .seconds(60), directory: work)
            #expect(held.stdout.contains("s1\t0 turns") && held.stdout.contains("held by chat:"), "\(held.stdout)")

            let resumed = try await chat("Are you there?")
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.contains("answering it first: Hi, I am Ann."))
            let next = try await chat("What is my name?")
            #expect(next.status == 0, "\(next.stderr)")
            let last = try #require(server.chatRequests.last?.json?["messages"]?.arrayValue)
            #expect(last.compactMap { $0["content"]?.stringValue }.first == "Hi, I am Ann.")
            #expect(last.count == 3)

            let shown = try await KeelProcess.run(
                ["sessions", "show", "s1", "--tenant", "acme", "--user", "ann", "--db", db, "--json"], killAfter: nil, timeout: .seconds(60), directory: work)
            let session = try JSONValue(parsing: shown.stdout)
            #expect(session["version"] == 2)
            #expect(session["heldBy"] == nil)
            #expect(session["messages"]?.arrayValue?.count == 4)
            // Another user of the tenant has no such conversation.
            let other = try await KeelProcess.run(["sessions", "list", "--tenant", "acme", "--user", "bob", "--db", db], killAfter: nil, timeout: .seconds(60), directory: work)
            #expect(other.status == 0 && other.stdout.isEmpty)
        }
    }
}
