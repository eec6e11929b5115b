import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

/// Writes 40 KB steps: enough to fill a small store.
struct BulkySteps: Workflow {
    let name = "bulky-steps"
    let counter: Counter

    func run(_ input: Int, context: RunContext) async throws -> Int {
        for index in 1...input {
            _ = try await context.step("bulk-\(index)") {
                counter.hit("bulk-\(index)")
                return String(repeating: "\(index % 10)", count: 40_000)
            }
        }
        return input
    }
}

/// A store that fills up: the run is given back, not failed; nothing crashes; with room again,
/// it resumes from its last step.
@Suite(.timeLimit(.minutes(5))) struct DiskFullTests {
    @Test func aFullStoreGivesTheRunBackAndItResumesWhenThereIsRoom() async throws {
        let path = try temporaryStorePath()
        var small = SQLiteRunStore.Configuration()
        small.maximumSize = 512 << 10
        let counter = Counter()
        let workflow = BulkySteps(counter: counter)
        let full = try SQLiteRunStore(path: path, configuration: small)
        let cramped = DurableRuntime(store: full, workflows: [AnyWorkflow(workflow)])
        do {
            let record = try await cramped.start(workflow, input: 40, runID: "bulky")
            Issue.record("40 steps of 40 KB fit in 512 KB: \(record.status)")
        } catch let error as StoreError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("full"), "\(error.message)")
        }
        let given = try #require(try await full.run(id: "bulky"))
        #expect(given.status == .pending, "a run the store could not write is given back, not failed")
        let written = try await full.journal(runID: "bulky").filter { $0.status == .completed }.count
        #expect(written > 0 && written < 40)
        #expect(try await full.deadLetters(includeResolved: true, limit: 10).isEmpty)

        // Room again: the run resumes from its last step, and no step that was written runs again.
        let roomy = try SQLiteRunStore(path: path)
        let record = try await DurableRuntime(store: roomy, workflows: [AnyWorkflow(workflow)]).run("bulky")
        #expect(record.status == .completed)
        #expect(record.output == 40)
        for index in 1...written { #expect(counter["bulk-\(index)"] == 1, "step \(index) ran \(counter["bulk-\(index)"]) times") }
        #expect(try await roomy.journal(runID: "bulky").filter { $0.status == .completed }.count == 40)
    }
}
