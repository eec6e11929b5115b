import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// Four `keel worker` processes on one PostgreSQL store, one of them killed with SIGKILL every few
    /// seconds and restarted, until a hundred 20-section pipelines are done.
    @Suite(.timeLimit(.minutes(20)), .needsPostgreSQL) struct Failover {
        let runs = 100
        let sections = 20
        let concurrency = 4

        func folder() throws -> URL {
            try TemporaryFolder.make("keel-workers")
        }

        func worker(_ url: String, log: URL) throws -> BackgroundKeel {
            try BackgroundKeel(
                ["worker", "--store", url, "--concurrency", String(concurrency), "--lease", "3s", "--heartbeat", "1s", "--poll", "50ms",
                 "--shutdown-grace", "20s"], log: log)
        }

        @Test func everyRunCompletesOnceThroughWorkerKills() async throws {
            let work = try folder()
            defer { try? FileManager.default.removeItem(at: work) }
            let url = try await PostgresTestCluster.shared().createDatabase("failover")
            var latency = ChaosConfiguration()
            latency.latency = .milliseconds(50)
            try await OpenAICompatibleServer.withServer(responder: .chaos(latency, answeringWith: .model(ReportWriterModel()))) { server in
                // One run through the CLI; its input is the template for the other 99.
                let submitted = try await KeelProcess.run(
                    ["submit", "demo", "--store", url, "--model", "openai:writer", "--base-url", server.baseURL, "--sections", String(sections),
                     "--pace", "0ms", "--run-id", "run-1"], killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
                #expect(submitted.stdout == "run-1\n")
                let again = try await KeelProcess.run(
                    ["submit", "demo", "--store", url, "--model", "openai:writer", "--base-url", server.baseURL, "--sections", String(sections),
                     "--pace", "0ms", "--run-id", "run-1"], killAfter: nil, directory: work)
                #expect(again.status == 0 && again.stdout == "run-1\n", "submitting again is idempotent")
                let store = try await PostgresRunStore.connect(url)
                let template = try #require(try await store.run(id: "run-1"))
                for number in 2...runs {
                    _ = try await store.createRun(NewRun(id: "run-\(number)", workflow: template.workflow, input: template.input))
                }

                var workers = try (0..<4).map { try worker(url, log: work.appendingPathComponent("worker-\($0)-0.log")) }
                var kills = 0
                var generator = SystemRandomNumberGenerator()
                let started = ContinuousClock.now
                var completed = 0
                while completed < runs, ContinuousClock.now - started < .seconds(240) {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1_500...3_000, using: &generator)))
                    completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000)).count
                    guard completed < runs else { break }
                    let victim = Int.random(in: 0..<workers.count, using: &generator)
                    workers[victim].killHard()
                    kills += 1
                    workers[victim] = try worker(url, log: work.appendingPathComponent("worker-\(victim)-\(kills).log"))
                }
                #expect(completed == runs, "\(completed) of \(runs) runs completed in 240 s")
                #expect(kills >= 3)

                // SIGTERM: each worker stops claiming and exits cleanly.
                for worker in workers {
                    let status = await worker.terminate(timeout: .seconds(30))
                    #expect(status == 0, "a worker did not stop cleanly: \(worker.output.suffix(400))")
                }

                var modelSteps = 0
                for number in 1...runs {
                    let journal = try await store.journal(runID: "run-\(number)")
                    let names = journal.filter { $0.name.hasPrefix("section-") }.map(\.name)
                    #expect(names == (1...sections).map { "section-\($0)" }, "run-\(number) has sections \(names)")
                    #expect(journal.allSatisfy { $0.status == .completed })
                    // Fencing: no entry was written under an older lease after a newer one wrote.
                    let epochs = try await store.journalEpochs(runID: "run-\(number)")
                    #expect(epochs == epochs.sorted(), "run-\(number) has epochs \(epochs)")
                    modelSteps += journal.filter { $0.metering != nil }.count
                }
                let requests = server.chatRequests.count
                print("failover: \(runs) runs, \(modelSteps) model steps, \(requests) chat requests, \(kills) SIGKILLs, \(ContinuousClock.now - started)")
                #expect(requests >= modelSteps)
                #expect(requests - modelSteps <= kills * concurrency, "\(requests) requests for \(modelSteps) steps with \(kills) kills")
                await store.close()
            }
        }
    }
}
