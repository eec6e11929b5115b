import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// Durable workers on PostgreSQL, in process: the README's example, and two workers sharing
/// runs without ever running one twice.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresWorkerTests {
    struct Counted: Workflow {
        let name = "counted"
        let calls: Locked<[String: Int]>
        func run(_ input: Int, context: RunContext) async throws -> Int {
            var total = 0
            for index in 0..<input {
                total += try await context.step("section-\(index + 1)") {
                    calls.withLock { $0["\(context.runID)/\(index)", default: 0] += 1 }
                    try await Task.sleep(for: .milliseconds(5))
                    return index
                }
            }
            return total
        }
    }

    @Test func twoWorkersShareTheRunsAndRunEachStepOnce() async throws {
        let (store, url) = try await freshStore()
        let calls = Locked<[String: Int]>([:])
        let workflow = Counted(calls: calls)
        for number in 0..<30 {
            _ = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).submit(workflow, input: 6, runID: "run-\(number)")
        }
        let other = try await connectForTests(url)
        // The README's worker, twice.
        let workers = [store, other].map { store in
            let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
            return Task { await runtime.work(concurrency: 4) }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while try await store.listRuns(RunQuery(statuses: [.completed], limit: 100)).count < 30, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        for worker in workers { worker.cancel() }
        for worker in workers { await worker.value }
        let completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 100))
        #expect(completed.count == 30)
        #expect(completed.allSatisfy { $0.output == .number(15) })
        #expect(calls.value.count == 30 * 6)
        #expect(calls.value.values.allSatisfy { $0 == 1 }, "a step ran twice")
        await other.close()
        await store.close()
    }

    @Test func aCancelledWorkerGivesItsRunsBack() async throws {
        let (store, _) = try await freshStore()
        let calls = Locked<[String: Int]>([:])
        let workflow = Counted(calls: calls)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        _ = try await runtime.submit(workflow, input: 400, runID: "long")
        let worker = Task { await runtime.work(concurrency: 1) }
        while calls.value.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        worker.cancel()
        await worker.value
        let record = try #require(try await store.run(id: "long"))
        #expect(record.status == .pending, "a cancelled worker gives the run back, got \(record.status)")
        #expect(record.failure == nil)
        #expect(try await store.deadLetters(includeResolved: true, limit: 10).isEmpty)
        await store.close()
    }
}
