import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// Four `keel worker` processes on one PostgreSQL store share one rate limit: together they stay
    /// within what the server allows, instead of each taking the whole allowance.
    @Suite(.timeLimit(.minutes(20)), .needsPostgreSQL) struct RateLimit {
        @Test func fourWorkersTogetherStayWithinSixHundredRequestsAMinute() async throws {
            let work = try TemporaryFolder.make("keel-shared-limits")
            defer { try? FileManager.default.removeItem(at: work) }
            let url = try await PostgresTestCluster.shared().createDatabase("limits")
            var limited = ChaosConfiguration()
            limited.requestsPerMinute = 600
            limited.startWithFullBuckets = false  // as a provider still counting earlier requests
            limited.burstSeconds = 1  // and enforcing its per-minute limit over one-second windows
            let stats = ChaosStats()
            let runs = 20
            let sections = 10
            try await OpenAICompatibleServer.withServer(responder: .chaos(limited, stats: stats, answeringWith: .model(ReportWriterModel()))) { server in
                let submitted = try await KeelProcess.run(
                    ["submit", "demo", "--store", url, "--model", "openai:writer", "--base-url", server.baseURL, "--sections", String(sections),
                     "--pace", "0ms", "--rpm", "600", "--run-id", "paced-1"], killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
                let store = try await PostgresRunStore.connect(url)
                let template = try #require(try await store.run(id: "paced-1"))
                for number in 2...runs {
                    _ = try await store.createRun(NewRun(id: "paced-\(number)", workflow: template.workflow, input: template.input))
                }
                let workers = try (0..<4).map {
                    try BackgroundKeel(
                        ["worker", "--store", url, "--concurrency", "8", "--poll", "50ms"], log: work.appendingPathComponent("worker-\($0).log"))
                }
                let started = ContinuousClock.now
                var completed = 0
                while completed < runs, ContinuousClock.now - started < .seconds(120) {
                    try await Task.sleep(for: .milliseconds(500))
                    completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000)).count
                }
                for worker in workers { _ = await worker.terminate(timeout: .seconds(20)) }
                #expect(completed == runs, "\(completed) of \(runs) runs completed")

                let counts = stats.snapshot
                let times = server.chatRequests.map(\.receivedAt).sorted()
                let minutes = (times.last ?? Date()).timeIntervalSince(times.first ?? Date()) / 60
                let rate = Double(max(0, times.count - 1)) / max(minutes, 1e-9)
                print("shared limits: \(counts.requests) requests, \(counts.rateLimited) answered 429, \(Int(rate)) requests/min over \(Int(minutes * 60)) s")
                #expect(counts.requests >= runs * sections)
                #expect(rate <= 600 * 1.03, "the workers sent \(Int(rate)) requests a minute")
                #expect(rate >= 600 * 0.8, "the workers used only \(Int(rate)) of 600 requests a minute")
                #expect(Double(counts.rateLimited) <= Double(counts.requests) * 0.01, "\(counts.rateLimited) of \(counts.requests) requests were answered 429")
                await store.close()
            }
        }
    }
}
