import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// A worker cut off from the database stops its run's work itself, before its lease expires
/// and another worker may take the run over.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresLeaseTests {
    /// One step that works until it is cancelled (at most a minute), noting when it stopped.
    struct Long: Workflow {
        let name = "long"
        let events: Locked<[String: ContinuousClock.Instant]>
        func run(_ input: Int, context: RunContext) async throws -> Int {
            try await context.step("work") {
                events.withLock { $0["started"] = .now }
                defer { events.withLock { $0["stopped"] = .now } }
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
    }

    @Test func aWorkerThatCannotRenewStopsBeforeItsLeaseExpires() async throws {
        let cluster = try await PostgresTestCluster.start(fsync: false)
        let url = try await cluster.createDatabase("lease")
        let store = try await connectForTests(url)
        let events = Locked<[String: ContinuousClock.Instant]>([:])
        let workflow = Long(events: events)
        var configuration = DurableRuntime.Configuration()
        configuration.leaseDuration = .seconds(6)
        configuration.heartbeatInterval = .seconds(1)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)], configuration: configuration)
        _ = try await runtime.submit(workflow, input: 1, runID: "cut-off")
        let running = Task { try await runtime.run("cut-off") }
        while events.value["started"] == nil { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .seconds(2))  // a renewal or two succeed
        let cut = ContinuousClock.now
        try await cluster.stopServer()
        // Wait for the step to stop (the old code let it run its full minute).
        let deadline = cut + .seconds(20)
        while events.value["stopped"] == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let stopped = try #require(events.value["stopped"], "the step ran on after the lease could no longer be renewed")
        // The last renewal came before the cut, so the lease ends within 6 s of it.
        #expect(stopped - cut < .seconds(6), "stopped \(stopped - cut) after the database went away")
        running.cancel()
        _ = await running.result
        try await cluster.startServer()
        await store.close()
    }
}
