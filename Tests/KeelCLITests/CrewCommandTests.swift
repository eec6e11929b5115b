import Foundation
import KeelApp
import KeelCore
import KeelCrew
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// The example crew in Examples/research-crew.
let researchCrew = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Examples/research-crew").path

/// The result JSON that `keel crew run --json` prints after its progress lines.
func printedCrewResult(_ stdout: String) throws -> CrewResult {
    let printed = stdout.split(separator: "\n", omittingEmptySubsequences: false).drop { !$0.hasPrefix("{") }.joined(separator: "\n")
    return try JSONValue(parsing: printed).decode(as: CrewResult.self)
}

@Suite(.timeLimit(.minutes(3)))
struct CrewCommandTests {
    @Test func theExampleCrewRunsOfflineAndReportsUsagePerAgent() async throws {
        let work = try TemporaryFolder.make("keel-crew-cli")
        let db = work.appendingPathComponent("keel.db").path
        let output = try await KeelProcess.run(
            ["crew", "run", researchCrew, "--input", "topic=tidal power", "--db", db, "--run-id", "c1", "--output-dir", work.path],
            killAfter: nil, timeout: .seconds(60), directory: work)
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("task research_task: researcher is working"))
        #expect(lines.contains("task review_task: done"))
        #expect(lines.contains { $0.hasPrefix("usage writer: 2 model calls") })
        #expect(lines.last?.hasPrefix("run c1 completed after 3 tasks") == true)
        let report = try String(contentsOf: work.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(report.hasPrefix("# Write a report on tidal power from the research in the"))

        // Run again with the same id: every task comes from the journal.
        let again = try await KeelProcess.run(["crew", "run", researchCrew, "--db", db, "--run-id", "c1", "--input", "topic=tidal power"], killAfter: nil, timeout: .seconds(60), directory: work)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stdout.contains("is working"))
    }

    @Test func aBrokenDefinitionIsRefusedWithItsFileLineAndField() async throws {
        let work = try TemporaryFolder.make("keel-crew-cli")
        let crew = work.appendingPathComponent("crew")
        try FileManager.default.createDirectory(at: crew, withIntermediateDirectories: true)
        try "writer:\n  role: Writer\n  goal: Write about {topic}\n  backstory: You write.\n".write(to: crew.appendingPathComponent("agents.yaml"), atomically: true, encoding: .utf8)
        try "draft:\n  description: Draft.\n  expected_output: A draft.\n  agent: editor\n".write(to: crew.appendingPathComponent("tasks.yaml"), atomically: true, encoding: .utf8)
        let output = try await KeelProcess.run(
            ["crew", "run", crew.path, "--db", work.appendingPathComponent("keel.db").path], killAfter: nil, timeout: .seconds(60), directory: work)
        #expect(output.status != 0)
        #expect(output.stderr.contains("agents.yaml:3: writer.goal: uses {topic}, which the inputs do not give (--input topic=…)"))
        #expect(output.stderr.contains("tasks.yaml:4: draft.agent: the agent 'editor' is not defined in agents.yaml (agents: writer)"))
    }
}

extension EnduranceTests {
    /// The real `keel crew run` of the example crew, over HTTP, killed with SIGKILL at random moments
    /// and run again with the same run id until it completes.
    @Suite(.timeLimit(.minutes(10))) struct CrewKill {
        func run(_ server: OpenAICompatibleServer, runID: String, db: String, output: String) -> [String] {
            ["crew", "run", researchCrew, "--input", "topic=tidal power", "--model", "openai:crew", "--base-url", server.baseURL, "--db", db,
             "--run-id", runID, "--output-dir", output, "--json"]
        }

        static let tasks = [("research_task", "researcher"), ("writing_task", "writer"), ("review_task", "critic")]

        @Test func theExampleCrewSurvivesTwelveKillsAndDoesNoTaskTwice() async throws {
            let work = try TemporaryFolder.make("keel-crew-kill")
            let db = work.appendingPathComponent("keel.db").path
            let killedOutput = work.appendingPathComponent("killed").path
            try await OpenAICompatibleServer.withServer(responder: .model(SlowedModel(inner: CrewModel(), delay: .milliseconds(400)))) { server in
                guard let killed = try await KeelProcess.runKilling(run(server, runID: "killed", db: db, output: killedOutput), kills: 12, after: 40...500, directory: work)
                else { return }
                #expect(killed.finished.status == 0, "\(killed.finished.stderr)")
                #expect(killed.kills >= 10)
                let requestsWhileKilling = server.chatRequests.count

                // Each task is journaled once, in order; four model calls in all (the writer's
                // guardrail check is one), each in its task's scope.
                let store = try SQLiteRunStore(path: db)
                let journal = try await store.journal(runID: "killed")
                #expect(journal.filter { $0.scope.isEmpty }.map(\.name) == Self.tasks.map { "task:\($0.0)" })
                let modelSteps = journal.filter { $0.kind == .model && $0.status == .completed }
                #expect(modelSteps.map(\.scope).sorted() == [
                    "task-1-research_task@researcher", "task-2-writing_task@writer", "task-2-writing_task@writer/guardrail-guardrail-1", "task-3-review_task@critic",
                ])
                #expect(requestsWhileKilling >= 4)
                #expect(requestsWhileKilling <= modelSteps.count + killed.kills)

                // No task was done again once journaled: after a run reported a task done (or
                // replayed it), no later run started work on it.
                for (task, agent) in Self.tasks {
                    var settled = false
                    var fresh = 0
                    for output in killed.all {
                        let lines = output.stdout.split(separator: "\n")
                        if settled { #expect(!lines.contains("task \(task): \(agent) is working"[...]), "\(task) started again after it was journaled") }
                        if lines.contains("task \(task): done"[...]) { fresh += 1 }
                        if lines.contains(where: { $0.hasPrefix("task \(task): done") }) { settled = true }
                    }
                    #expect(fresh <= 1)
                    #expect(settled)
                }

                // Usage per agent sums exactly to the run's.
                let result = try printedCrewResult(killed.finished.stdout)
                let total = UsageByAgent.total(of: journal)
                #expect(result.usage == total)
                #expect(result.usageByAgent.values.reduce(0) { $0 + $1.usage.totalTokens } == total.usage.totalTokens)
                #expect(result.usageByAgent.values.reduce(0) { $0 + $1.modelCalls } == 4)
                #expect(result.usageByTask.values.reduce(0) { $0 + $1.usage.totalTokens } == total.usage.totalTokens)
                #expect(try String(contentsOfFile: killedOutput + "/report.md", encoding: .utf8) == result.tasks[1].raw)
                #expect(try String(contentsOfFile: killedOutput + "/review.md", encoding: .utf8) == result.output)

                // The same crew, uninterrupted, gives the same result.
                let cleanDB = work.appendingPathComponent("clean.db").path
                let clean = try await KeelProcess.run(
                    run(server, runID: "clean", db: cleanDB, output: work.appendingPathComponent("clean").path), killAfter: nil, timeout: .seconds(120), directory: work)
                #expect(clean.status == 0, "\(clean.stderr)")
                #expect(server.chatRequests.count - requestsWhileKilling == 4)
                let cleanResult = try printedCrewResult(clean.stdout)
                #expect(cleanResult.tasks == result.tasks)
                #expect(cleanResult.usage == result.usage)
            }
        }
    }
}
