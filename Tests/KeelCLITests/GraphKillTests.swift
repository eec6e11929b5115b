import Foundation
import KeelApp
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// A model slowed down, so that a run lasts long enough to be killed at random moments.
struct SlowedModel: ChatModel {
    let inner: any ChatModel
    let delay: Duration
    var provider: String { inner.provider }
    var name: String { inner.name }
    func respond(to request: ChatRequest) async throws -> ChatResponse {
        try await Task.sleep(for: delay)
        return try await inner.respond(to: request)
    }
}

extension EnduranceTests {
    /// The real `keel graph run research-review` process, killed with SIGKILL at random moments and
    /// run again with the same run id until it completes.
    @Suite(.timeLimit(.minutes(10))) struct GraphKill {
        /// Six drafts (the score reaches 1 at the sixth): 18 super-steps, 18 model calls, 6 ledger
        /// records.
        func run(_ server: OpenAICompatibleServer, runID: String, db: String, ledger: String) -> [String] {
            ["graph", "run", "research-review", "--topic", "tidal power", "--model", "openai:editor", "--base-url", server.baseURL, "--db", db,
             "--run-id", runID, "--ledger", ledger, "--quality-bar", "1", "--max-revisions", "8", "--json"]
        }

        @Test func theGraphSurvivesTwentyKillsWithTheSameFinalState() async throws {
            let work = try TemporaryFolder.make("keel-graph-kill")
            let db = work.appendingPathComponent("keel.db").path
            let ledger = work.appendingPathComponent("ledger.txt").path
            try await OpenAICompatibleServer.withServer(responder: .model(SlowedModel(inner: EditorModel(), delay: .milliseconds(120)))) { server in
                guard let killed = try await KeelProcess.runKilling(run(server, runID: "killed", db: db, ledger: ledger), kills: 22, after: 60...400, directory: work)
                else { return }
                #expect(killed.finished.status == 0, "\(killed.finished.stderr)")
                let (finished, kills) = (killed.finished, killed.kills)
                #expect(kills >= 20)
                let requestsWhileKilling = server.chatRequests.count

                // Every super-step is journaled once, in order, and no node ran again after its
                // super-step was journaled: one model step per super-step.
                let store = try SQLiteRunStore(path: db)
                let journal = try await store.journal(runID: "killed")
                let superSteps = journal.filter { $0.scope.isEmpty }.map(\.name)
                #expect(superSteps == (1...18).map { $0 % 10 == 0 ? "checkpoint \($0)" : "superstep \($0)" })
                let modelSteps = journal.filter { $0.kind == .model && $0.status == .completed }
                #expect(modelSteps.count == 18)
                #expect(Set(modelSteps.map(\.scope)).count == 18)
                // At most one request lost per kill.
                #expect(requestsWhileKilling >= 18)
                #expect(requestsWhileKilling <= modelSteps.count + kills)

                // The ledger's side effect happened once per draft super-step, whatever the kills.
                let expectedKeys = [2, 5, 8, 11, 14, 17].map { "killed:s\($0).draft/1" }
                let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n")
                #expect(lines.map { String($0.split(separator: "\t")[0]) } == expectedKeys)
                let calls = try String(contentsOfFile: ledger + ".calls", encoding: .utf8).split(separator: "\n").map(String.init)
                #expect(Set(calls) == Set(expectedKeys))

                // The same graph, uninterrupted, ends in the same state.
                let clean = try await KeelProcess.run(
                    run(server, runID: "clean", db: work.appendingPathComponent("clean.db").path, ledger: work.appendingPathComponent("clean.txt").path),
                    killAfter: nil, timeout: .seconds(120), directory: work)
                #expect(clean.status == 0, "\(clean.stderr)")
                #expect(server.chatRequests.count - requestsWhileKilling == 18)
                let killedResult = try #require(try await store.run(id: "killed")?.output?.decode(as: GraphResult<ResearchReviewState>.self))
                let cleanResult = try #require(
                    try await SQLiteRunStore(path: work.appendingPathComponent("clean.db").path).run(id: "clean")?.output?.decode(as: GraphResult<ResearchReviewState>.self))
                #expect(killedResult.state == cleanResult.state)
                #expect(killedResult.superSteps == 18)
                #expect(killedResult.state.revisions == 6)
                #expect(killedResult.state.notes.count == 6)
                // --json prints the result after the progress lines.
                let printed = finished.stdout.split(separator: "\n", omittingEmptySubsequences: false).drop { !$0.hasPrefix("{") }.joined(separator: "\n")
                #expect(try JSONValue(parsing: printed)["superSteps"] == 18)
            }
        }
    }
}
