import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// PostgreSQL whose data disk fills up while a run writes: the run is given back, not failed;
/// the server and the worker survive; with room again the run resumes from its last step.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL, .needsSmallDisks) struct PostgresDiskFullTests {
    /// Steps of 100 KB that do not compress (PostgreSQL compresses large values), each counted.
    struct Incompressible: Workflow {
        let name = "incompressible"
        let runs: Locked<[Int: Int]>

        func run(_ input: Int, context: RunContext) async throws -> Int {
            for index in 1...input {
                _ = try await context.step("chunk-\(index)") {
                    runs.withLock { $0[index, default: 0] += 1 }
                    var random = SeededRandomGenerator(seed: UInt64(index))
                    return String((0..<100_000).map { _ in Character(UnicodeScalar(UInt8.random(in: 33...126, using: &random))) })
                }
            }
            return input
        }
    }

    @Test func aFullDataDiskGivesTheRunBackAndItResumesWhenThereIsRoom() async throws {
        let disk = try await SmallDisk.mount(megabytes: 96)
        defer { disk.unmount() }
        let cluster = try await PostgresTestCluster.start(fsync: false, dataDisk: disk.folder)
        let url = try await cluster.createDatabase("full")
        var configuration = try PostgresRunStore.Configuration(url: url)
        configuration.connectTimeout = .seconds(60)
        configuration.operationTimeout = .seconds(60)
        let store = try await PostgresRunStore.connect(configuration)
        let runs = Locked<[Int: Int]>([:])
        let workflow = Incompressible(runs: runs)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])

        // Room for a few steps, not for 60 of 100 KB.
        try disk.fill(leaving: 2 << 20)
        do {
            let record = try await runtime.start(workflow, input: 60, runID: "bulky")
            Issue.record("60 steps of 100 KB fit in 2 MB: \(record.status)")
        } catch let error as StoreError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("No space left") || error.message.contains("53100"), "\(error.message)")
        }
        let given = try #require(try await store.run(id: "bulky"))
        #expect(given.status == .pending, "a run the database could not write is given back, not failed")
        let written = try await store.journal(runID: "bulky").filter { $0.status == .completed }.count
        #expect(written > 0 && written < 60)
        #expect(try await store.deadLetters(includeResolved: true, limit: 10).isEmpty)

        // Room again: the same server, the same store; the run resumes from its last step.
        try disk.makeRoom()
        let record = try await runtime.run("bulky")
        #expect(record.status == .completed)
        #expect(record.output == 60)
        let counts = runs.withLock { $0 }
        for index in 1...written { #expect(counts[index] == 1, "step \(index) ran \(counts[index] ?? 0) times") }
        #expect(try await store.journal(runID: "bulky").filter { $0.status == .completed }.count == 60)
        await store.close()
        try await cluster.stopServer()
    }
}
