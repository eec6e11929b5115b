import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// The real `keel demo` process, killed with SIGKILL at random moments and restarted with the same
    /// run id until it completes.
    @Suite(.timeLimit(.minutes(20))) struct DemoKill {
        let sections = 161
        /// The pause between sections: long enough that the demo runs longer than twenty kills at
        /// their latest (161 × 40 ms of pauses alone is 6.4 s; twenty kills at 300 ms are 6 s),
        /// however fast the machine writes the sections.
        let pace = "40ms"

        func folder() throws -> URL {
            try TemporaryFolder.make("keel-kill")
        }

        func demo(_ server: OpenAICompatibleServer, runID: String, db: String, output: String) -> [String] {
            ["demo", "--model", "openai:writer", "--base-url", server.baseURL, "--db", db, "--run-id", runID, "--sections", String(sections),
             "--pace", pace, "--output", output]
        }

        @Test func theReportSurvivesTwentyKillsByteForByte() async throws {
            let work = try folder()
            let db = work.appendingPathComponent("keel.db").path
            try await OpenAICompatibleServer.withServer(responder: .model(ReportWriterModel())) { server in
                // Twenty kills at random moments, then let it run to the end.
                guard let killed = try await KeelProcess.runKilling(demo(server, runID: "killed", db: db, output: "killed.md"), kills: 20, after: 80...300, directory: work)
                else { return }
                #expect(killed.finished.status == 0, "\(killed.finished.stderr)")
                let kills = killed.kills
                #expect(kills >= 20)

                // Every section is in the journal exactly once, in order.
                let store = try SQLiteRunStore(path: db)
                let journal = try await store.journal(runID: "killed")
                let sectionNames = journal.filter { $0.name.hasPrefix("section-") }.map(\.name)
                #expect(sectionNames == (1...sections).map { "section-\($0)" })
                #expect(journal.allSatisfy { $0.status == .completed })
                #expect(try await store.run(id: "killed")?.status == .completed)

                // At most one request was lost per kill.
                let requestsWhileKilling = server.chatRequests.count
                #expect(requestsWhileKilling >= sections)
                #expect(requestsWhileKilling - sections <= kills)

                // The same report, uninterrupted, against the same server, is byte-identical.
                let clean = try await KeelProcess.run(demo(server, runID: "clean", db: work.appendingPathComponent("clean.db").path, output: "clean.md"), killAfter: nil, timeout: .seconds(120), directory: work)
                #expect(clean.status == 0, "\(clean.stderr)")
                let killedReport = try Data(contentsOf: work.appendingPathComponent("killed.md"))
                let cleanReport = try Data(contentsOf: work.appendingPathComponent("clean.md"))
                #expect(killedReport == cleanReport)
                #expect(killedReport.count > 100_000)
                #expect(server.chatRequests.count - requestsWhileKilling == sections)
            }
        }
    }
}
