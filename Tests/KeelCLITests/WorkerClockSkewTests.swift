import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

extension EnduranceTests {
    /// Three `keel worker` processes whose clocks disagree — one 45 s ahead, one 45 s behind (both
    /// past the 10 s lease), one whose clock steps two minutes forward and then one back during the
    /// runs, all under libfaketime — share durable sleeps and approval time limits on PostgreSQL.
    /// No run is stolen, no step runs twice, and every wake-up and expiry comes on time.
    @Suite(.timeLimit(.minutes(20)), .needsPostgreSQL) struct ClockSkew {
        static let library = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
        let runs = 12
        let sections = 5
        let pace = Duration.seconds(1)
        let approvalTimeout = Duration.seconds(4)

        /// A worker under libfaketime; only the wall clock is faked (a real clock step leaves the
        /// monotonic clock alone). Preloaded directly rather than through the `faketime` wrapper,
        /// which forks and waits (a signal to it would not reach the worker); the wrapper also
        /// sets FAKETIME_SHARED, without which this libfaketime (0.9.10) has been seen to leave a
        /// Swift program an empty argument list — so it is set here too, to names of its own.
        func worker(_ url: String, log: URL, clock: [String: String]) throws -> BackgroundKeel {
            var environment = clock
            environment["LD_PRELOAD"] = Self.library
            environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
            environment["FAKETIME_SHARED"] = "/keel_faketime_sem_\(getpid()) /keel_faketime_shm_\(getpid())"
            return try BackgroundKeel(
                ["worker", "--store", url, "--concurrency", "3", "--lease", "10s", "--heartbeat", "2s", "--poll", "50ms", "--inline-sleep", "0s"],
                log: log, environment: environment)
        }

        @Test(.enabled(if: FileManager.default.fileExists(atPath: library) || MachineRequirements.required, "needs Debian's faketime (apt-get install faketime)"))
        func skewedAndSteppedClocksStealNothingAndWakeOnTime() async throws {
            try #require(FileManager.default.fileExists(atPath: Self.library), "libfaketime is missing: apt-get install faketime")
            let work = try TemporaryFolder.make("keel-skew")
            let url = try await PostgresTestCluster.shared().createDatabase("skew")
            var latency = ChaosConfiguration()
            latency.latency = .milliseconds(20)
            try await OpenAICompatibleServer.withServer(responder: .chaos(latency, answeringWith: .model(ReportWriterModel()))) { server in
                let submitted = try await KeelProcess.run(
                    ["submit", "demo", "--store", url, "--model", "openai:writer", "--base-url", server.baseURL, "--sections", String(sections),
                     "--pace", "1s", "--topic", Self.topic(1), "--run-id", "skew-01"], killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
                let store = try await PostgresRunStore.connect(url)
                let template = try #require(try await store.run(id: "skew-01"))
                for number in 2...runs {
                    var input = template.input
                    if case .object(var fields) = input { fields["topic"] = .string(Self.topic(number)); input = .object(fields) }
                    _ = try await store.createRun(NewRun(id: String(format: "skew-%02d", number), workflow: template.workflow, input: input))
                }
                for number in 1...2 {
                    let approval = try await KeelProcess.run(
                        ["submit", "agent", "--store", url, "--model", "arithmetic", "--tools", "calculator", "--require-approval", "multiply",
                         "--approval-timeout", "4s", "--run-id", "approval-\(number)", "What is 6 times 7?"], killAfter: nil, directory: work)
                    #expect(approval.status == 0, "\(approval.stderr)")
                }

                let stepping = work.appendingPathComponent("stepping-clock")
                try "+0s".write(to: stepping, atomically: true, encoding: .utf8)
                let workers = [
                    try worker(url, log: work.appendingPathComponent("ahead.log"), clock: ["FAKETIME": "+45s"]),
                    try worker(url, log: work.appendingPathComponent("behind.log"), clock: ["FAKETIME": "-45s"]),
                    try worker(
                        url, log: work.appendingPathComponent("stepping.log"),
                        clock: ["FAKETIME_TIMESTAMP_FILE": stepping.path, "FAKETIME_NO_CACHE": "1"]),
                ]

                // Watch the approvals: when each was first seen pending and when expired.
                var pendingSince: [String: ContinuousClock.Instant] = [:]
                var expiredAfter: [String: Duration] = [:]
                let started = ContinuousClock.now
                var stepped = 0
                var done = 0
                while ContinuousClock.now - started < .seconds(150) {
                    let elapsed = ContinuousClock.now - started
                    if stepped == 0, elapsed > .seconds(3) {
                        try "+120s".write(to: stepping, atomically: true, encoding: .utf8)
                        stepped = 1
                    } else if stepped == 1, elapsed > .seconds(7) {
                        try "-60s".write(to: stepping, atomically: true, encoding: .utf8)
                        stepped = 2
                    }
                    for approval in try await store.approvals(runID: nil, status: nil) {
                        let id = approval.request.id
                        if approval.status == .pending, pendingSince[id] == nil { pendingSince[id] = .now }
                        if approval.status == .expired, expiredAfter[id] == nil, let since = pendingSince[id] { expiredAfter[id] = .now - since }
                    }
                    done = try await store.listRuns(RunQuery(statuses: [.completed, .failed], limit: 100)).count
                    if done == runs + 2 { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                for worker in workers { _ = await worker.terminate(timeout: .seconds(30)) }

                let completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 100))
                #expect(completed.count == runs + 2, "\(completed.count) of \(runs + 2) runs completed; \(done) ended")
                if completed.count < runs + 2 {
                    for worker in workers { print("worker log:\n\(worker.output.suffix(3_000))") }
                }
                // Approval time limits, on the database's clock: four seconds, give or take the poll.
                #expect(expiredAfter.count == 2, "approvals seen expiring: \(expiredAfter)")
                for (id, after) in expiredAfter {
                    #expect(after > approvalTimeout - .milliseconds(500) && after < approvalTimeout + .seconds(3), "approval \(id) expired after \(after)")
                }

                var modelSteps = 0
                for number in 1...runs {
                    let id = String(format: "skew-%02d", number)
                    let journal = try await store.journal(runID: id)
                    let names = journal.filter { $0.name.hasPrefix("section-") }.map(\.name)
                    #expect(names == (1...sections).map { "section-\($0)" }, "\(id) has sections \(names)")
                    #expect(journal.allSatisfy { $0.status == .completed })
                    modelSteps += journal.filter { $0.metering != nil }.count
                    // One claim to start and one per wake-up: a stolen lease is an extra claim.
                    let run = try #require(try await store.run(id: id))
                    #expect(run.epoch <= sections, "\(id) was claimed \(run.epoch) times for \(sections - 1) sleeps")
                    // Each section's request comes a pace after the last one's answer, never
                    // early (a clock behind) and never 45 s late (a clock ahead).
                    let times = server.chatRequests.filter { $0.bodyText.contains(Self.topic(number)) }.map(\.receivedAt).sorted()
                    #expect(times.count == sections, "\(id) made \(times.count) model calls")
                    for (earlier, later) in zip(times, times.dropFirst()) {
                        let gap = later.timeIntervalSince(earlier)
                        #expect(gap > 0.75 && gap < 12, "\(id) woke \(gap) s after its last section (pace 1 s)")
                    }
                }
                #expect(server.chatRequests.count == modelSteps, "\(server.chatRequests.count) chat requests for \(modelSteps) model steps")
                await store.close()
            }
        }

        static func topic(_ number: Int) -> String {
            String(format: "skew topic %02d", number)
        }
    }
}

extension RecordedRequest {
    /// The body as text.
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}
