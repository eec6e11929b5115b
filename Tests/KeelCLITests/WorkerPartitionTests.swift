import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// Two `keel worker` processes on PostgreSQL, one of them behind a TCP proxy. That one is cut
    /// off by a partition (its connections stay open and carry nothing) past its lease, then let
    /// back with its late writes still queued; frozen with SIGSTOP past its lease and thawed; and
    /// has every connection cut. The other worker takes its runs over each time: each phase
    /// submits as many runs as the two workers have slots, so the other one has room for the
    /// cut-off worker's runs once their leases lapse (runs never started come first). Afterwards:
    /// every run completed with each of its steps journaled once, journal epochs only increase
    /// (no write of an older lease landed after a newer one), and finished runs stay as they are.
    @Suite(.timeLimit(.minutes(15)), .needsPostgreSQL) struct Partition {
        /// Runs per phase: the slots of both workers.
        let batch = 8
        let phases = 3
        let sections = 10
        var runs: Int { batch * phases }

        func worker(_ url: String, log: URL) throws -> BackgroundKeel {
            try BackgroundKeel(
                ["worker", "--store", url, "--concurrency", "4", "--lease", "3s", "--heartbeat", "1s", "--poll", "50ms", "--shutdown-grace", "20s"],
                log: log)
        }

        /// The runs whose lease `owner` (a worker's process id) holds now.
        /// The runs the worker with process id `pid` holds a live lease on, with the lease's epoch.
        func held(by pid: pid_t, in store: PostgresRunStore) async throws -> [String: Int] {
            let now = try await store.currentTime()
            let runs = try await store.listRuns(RunQuery(statuses: [.running], limit: 1_000)).filter { run in
                run.owner?.split(separator: "/").dropFirst().first == "\(pid)" && (run.leaseExpiresAt ?? .distantPast) > now
            }
            return Dictionary(uniqueKeysWithValues: runs.map { ($0.id, $0.epoch) })
        }

        /// Waits until the worker behind the proxy holds a run, so that what is done to it
        /// interrupts work.
        func waitUntilBusy(_ pid: pid_t, _ store: PostgresRunStore) async throws -> [String: Int] {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let runs = try await held(by: pid, in: store)
                if !runs.isEmpty { return runs }
                try await Task.sleep(for: .milliseconds(50))
            }
            return [:]
        }

        @Test func aPartitionedFrozenOrCutWorkerChangesNothingOnceItsRunsAreTaken() async throws {
            let work = try TemporaryFolder.make("keel-partition")
            defer { try? FileManager.default.removeItem(at: work) }
            let url = try await PostgresTestCluster.shared().createDatabase("partition")
            let direct = try PostgresRunStore.Configuration(url: url)
            let proxy = try TCPProxy(forwardingTo: direct.port)
            defer { proxy.stop() }
            let proxied = url.replacingOccurrences(of: ":\(direct.port)/", with: ":\(proxy.port)/")
            #expect(proxied != url)
            var latency = ChaosConfiguration()
            latency.latency = .milliseconds(100)
            try await OpenAICompatibleServer.withServer(responder: .chaos(latency, answeringWith: .model(ReportWriterModel()))) { server in
                let submitted = try await KeelProcess.run(
                    ["submit", "demo", "--store", url, "--model", "openai:writer", "--base-url", server.baseURL, "--sections", String(sections),
                     "--pace", "500ms", "--run-id", "run-1"], killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
                var settings = direct
                settings.connectTimeout = .seconds(60)
                settings.operationTimeout = .seconds(60)
                let store = try await PostgresRunStore.connect(settings)
                let template = try #require(try await store.run(id: "run-1"))
                /// Submits phase `phase`'s runs, and waits until the runs before them are done.
                func submit(phase: Int) async throws {
                    let deadline = ContinuousClock.now + .seconds(120)
                    while try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000)).count < (phase - 1) * batch, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    for number in ((phase - 1) * batch + 1)...(phase * batch) where number > 1 {
                        _ = try await store.createRun(NewRun(id: "run-\(number)", workflow: template.workflow, input: template.input))
                    }
                }
                try await submit(phase: 1)
                let cutOff = try worker(proxied, log: work.appendingPathComponent("behind-proxy.log"))
                let steady = try worker(url, log: work.appendingPathComponent("direct.log"))

                // A partition past the lease: the worker's connections stay open and carry nothing.
                let partitioned = try await waitUntilBusy(cutOff.child.pid, store)
                #expect(!partitioned.isEmpty, "the worker behind the proxy took no run")
                proxy.mode = .blackhole
                try await Task.sleep(for: .seconds(8))
                let takenDuringPartition = try await held(by: steady.child.pid, in: store)
                proxy.mode = .pass  // its queued writes arrive late

                // Frozen past the lease, then thawed.
                try await submit(phase: 2)
                let frozen = try await waitUntilBusy(cutOff.child.pid, store)
                cutOff.freeze()
                try await Task.sleep(for: .seconds(6))
                cutOff.resume()

                // Every connection cut at once.
                try await submit(phase: 3)
                _ = try await waitUntilBusy(cutOff.child.pid, store)
                proxy.cutAll()

                let started = ContinuousClock.now
                var completed = 0
                while completed < runs, ContinuousClock.now - started < .seconds(300) {
                    try await Task.sleep(for: .seconds(1))
                    completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000)).count
                }
                #expect(completed == runs, "\(completed) of \(runs) runs completed")
                #expect(!frozen.isEmpty, "the worker behind the proxy held no run when it was frozen")
                print("partition: the cut-off worker held \(partitioned.keys.sorted()), the other held \(takenDuringPartition.keys.sorted()) during the partition; froze holding \(frozen.keys.sorted())")

                // Finished runs stay finished: what they hold now, they hold after the workers
                // have had time to write anything late.
                let finished = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000))
                try await Task.sleep(for: .seconds(4))
                let later = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000))
                #expect(Dictionary(uniqueKeysWithValues: finished.map { ($0.id, $0.output) }) == Dictionary(uniqueKeysWithValues: later.map { ($0.id, $0.output) }))
                for number in 1...runs {
                    let journal = try await store.journal(runID: "run-\(number)")
                    let names = journal.filter { $0.name.hasPrefix("section-") }.map(\.name)
                    #expect(names == (1...sections).map { "section-\($0)" }, "run-\(number) has sections \(names)")
                    #expect(journal.allSatisfy { $0.status == .completed })
                    let epochs = try await store.journalEpochs(runID: "run-\(number)")
                    #expect(epochs == epochs.sorted(), "run-\(number) has epochs \(epochs)")
                    let after = try await store.journal(runID: "run-\(number)")
                    #expect(after == journal, "run-\(number)'s journal changed after it completed")
                }
                // The runs the cut-off worker held were taken over: each finished under a later lease
                // than the one it held (had it carried on after, its lease would be the same).
                for (what, held) in [("partitioned", partitioned), ("frozen", frozen)] {
                    var final: [String: Int] = [:]
                    for id in held.keys { final[id] = try await store.run(id: id)?.epoch }
                    #expect(held.contains { id, epoch in (final[id] ?? 0) > epoch }, "none of the \(what) worker's runs was taken over: \(held) → \(final)")
                }
                for worker in [cutOff, steady] {
                    let status = await worker.terminate(timeout: .seconds(30))
                    #expect(status == 0, "a worker did not stop cleanly: \(worker.output.suffix(600))")
                }
                await store.close()
            }
        }
    }
}
