import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// 200 agent runs through the real `keel batch` against a chaos server that fails 20 % of
    /// requests: 500s, 503s, hangs, bodies that are not JSON and truncated replies. Each call may take
    /// 5 s: the hangs must end by the timeout, while calls only starved of CPU by the suites running
    /// beside this one must not.
    @Suite(.timeLimit(.minutes(20))) struct ChaosBatch {
        @Test func twoHundredRunsSurviveTwentyPercentFaults() async throws {
            let work = try TemporaryFolder.make("keel-chaos")
            let prompts = (1...200).map { #"{"prompt": "What is \#($0) plus \#($0 * 3)?"}"# }.joined(separator: "\n")
            try Data(prompts.utf8).write(to: work.appendingPathComponent("prompts.jsonl"))
            let stats = ChaosStats()
            var chaos = ChaosConfiguration.faults(0.20)
            chaos.seed = 42
            try await OpenAICompatibleServer.withServer(responder: .chaos(chaos, stats: stats, answeringWith: .model(ArithmeticModel()))) { server in
                let output = try await KeelProcess.run(
                    ["batch", "--input", "prompts.jsonl", "--output", "results.jsonl", "--db", "chaos.db", "--concurrency", "20",
                     "--tools", "calculator", "--model", "openai:any", "--base-url", server.baseURL, "--attempts", "5", "--model-timeout", "5s"],
                    killAfter: nil, timeout: .seconds(300), directory: work)
                // No crash: the process ended on its own, with success or "some runs did not complete".
                #expect(output.status == 0 || output.status == 1, "\(output.stderr)")
                let lines = try String(contentsOf: work.appendingPathComponent("results.jsonl"), encoding: .utf8).split(separator: "\n")
                #expect(lines.count == 200)
                let results = try lines.map { try JSONValue(parsing: String($0)) }
                let completed = results.filter { $0["status"] == "completed" }
                let reasons = results.filter { $0["status"] != "completed" }.map { $0.serialized().prefix(300) }
                #expect(completed.count >= 198, "only \(completed.count) of 200 completed: \(reasons)")
                for result in completed.prefix(5) {
                    #expect(result["answer"]?.stringValue?.contains(" = ") == true)
                }
                // No run lost: every run is completed, or a dead letter with its reason.
                let store = try SQLiteRunStore(path: work.appendingPathComponent("chaos.db").path)
                let runs = try await store.listRuns(RunQuery(limit: 1_000))
                #expect(runs.count == 200)
                let letters = Set(try await store.deadLetters(includeResolved: false, limit: 1_000).map(\.runID))
                for run in runs where run.status != .completed {
                    #expect(run.status == .failed)
                    #expect(letters.contains(run.id), "run \(run.id) is \(run.status) but not in the dead-letter queue")
                }
                #expect(letters.count == runs.count { $0.status == .failed })
                let counts = stats.snapshot
                #expect(counts.faults > counts.requests / 8, "the server injected only \(counts.faults) faults in \(counts.requests) requests")
                #expect(counts.hangs > 0 && counts.truncated > 0 && counts.malformed > 0 && counts.serverErrors > 0 && counts.overloaded > 0)
            }
        }
    }
}
