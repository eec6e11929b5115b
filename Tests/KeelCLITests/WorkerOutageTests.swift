import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// Two `keel worker` processes start before their database, and later it goes away under them
    /// and comes back: they wait, reconnect and carry on, and every run completes with each
    /// section journaled once.
    @Suite(.timeLimit(.minutes(20)), .needsPostgreSQL) struct Outage {
        @Test func workersCarryOnAfterTheDatabaseComesBack() async throws {
            let work = try TemporaryFolder.make("keel-outage")
            defer { try? FileManager.default.removeItem(at: work) }
            // A cluster of its own, so that stopping it disturbs no other test.
            let cluster = try await PostgresTestCluster.start(fsync: false)
            let url = try await cluster.createDatabase("outage")
            let runs = 20
            let sections = 20
            var latency = ChaosConfiguration()
            latency.latency = .milliseconds(50)
            try await OpenAICompatibleServer.withServer(responder: .chaos(latency, answeringWith: .model(ReportWriterModel()))) { server in
                let submitted = try await KeelProcess.run(
                    ["submit", "demo", "--store", url, "--model", "openai:writer", "--base-url", server.baseURL, "--sections", String(sections),
                     "--pace", "0ms", "--run-id", "outage-1"], killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
                var store = try await PostgresRunStore.connect(url)
                let template = try #require(try await store.run(id: "outage-1"))
                for number in 2...runs {
                    _ = try await store.createRun(NewRun(id: "outage-\(number)", workflow: template.workflow, input: template.input))
                }
                await store.close()
                // Workers started while the database is down wait for it.
                try await cluster.stopServer()
                let workers = try (0..<2).map {
                    try BackgroundKeel(
                        // A short grace: once every run is done, SIGTERM must end a worker
                        // within it plus the time cancellation takes, whatever a slot was doing.
                        ["worker", "--store", url, "--concurrency", "4", "--lease", "3s", "--heartbeat", "1s", "--poll", "50ms", "--shutdown-grace", "5s"],
                        log: work.appendingPathComponent("worker-\($0).log"), environment: ["KEEL_LOG_LEVEL": "info"])
                }
                try await Task.sleep(for: .milliseconds(1_500))
                #expect(workers.allSatisfy { $0.isRunning && $0.output.contains("waiting for the store") })
                try await cluster.startServer()
                // Let work get going, then take the database away for three seconds.
                try await Task.sleep(for: .seconds(2))
                try await cluster.stopServer()
                let requestsDuringOutage = server.chatRequests.count
                try await Task.sleep(for: .seconds(3))
                #expect(workers.allSatisfy { $0.isRunning }, "a worker exited when the database went away")
                try await cluster.startServer()

                store = try await PostgresRunStore.connect(url)
                let started = ContinuousClock.now
                var completed = 0
                while completed < runs, ContinuousClock.now - started < .seconds(120) {
                    try await Task.sleep(for: .milliseconds(500))
                    completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000)).count
                }
                if completed < runs {
                    for run in try await store.listRuns(RunQuery(limit: 1_000)) where run.status != .completed {
                        print("unfinished: \(run.id) \(run.status) owner \(run.owner ?? "-") epoch \(run.epoch) lease until \(run.leaseExpiresAt.map { "\($0.timeIntervalSinceNow)" } ?? "-")")
                    }
                    for worker in workers { print(worker.output.suffix(3_000)) }
                }
                for worker in workers {
                    for line in worker.output.split(separator: "\n") where line.contains("given up") { print("worker: \(line)") }
                    let status = await worker.terminate(timeout: .seconds(40))
                    // Once a worker hung here, about one run in five: resuming a waiting task
                    // while holding a lock that a cancellation handler takes deadlocked two
                    // threads (see TimeLimitTests.endingAndCancellingAtOnceNeverDeadlocks).
                    #expect(status == 0, "\(worker.output.suffix(3_000))")
                }
                #expect(completed == runs, "\(completed) of \(runs) runs completed after the outage")
                #expect(requestsDuringOutage > 0)
                #expect(try await store.deadLetters(includeResolved: true, limit: 100).isEmpty)
                for number in 1...runs {
                    let names = try await store.journal(runID: "outage-\(number)").filter { $0.name.hasPrefix("section-") }.map(\.name)
                    #expect(names == (1...sections).map { "section-\($0)" }, "outage-\(number) has \(names)")
                }
                await store.close()
            }
        }
    }
}
