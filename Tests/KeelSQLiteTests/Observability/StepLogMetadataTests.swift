import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Logging
import Testing

/// Log lines say which run and step they were logged in.
@Suite(.timeLimit(.minutes(2))) struct StepLogMetadataTests {
    /// What the provider says in a step, in a scope's side effect, and between steps.
    struct Logs: Codable, Sendable, Equatable {
        var inStep: [String: String]
        var inScope: [String: String]
        var between: [String: String]
    }

    static func metadata() -> [String: String] {
        StepLogMetadata.provider.get().mapValues { "\($0)" }
    }

    struct Logging: Workflow {
        let name = "logging"

        func run(_ input: String, context: RunContext) async throws -> Logs {
            let first = try await context.step("fetch") { StepLogMetadataTests.metadata() }
            let between = StepLogMetadataTests.metadata()
            let scoped = try await context.scope("branch") { scope in
                _ = try await scope.step("warm-up") { 1 }
                return try await scope.sideEffect("send") { _ in StepLogMetadataTests.metadata() }
            }
            return Logs(inStep: first, inScope: scoped, between: between)
        }
    }

    @Test func theProviderNamesTheRunAndTheStepInsideStepsAndNothingOutside() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keel = DurableRuntime(store: store, workflows: [AnyWorkflow(Logging())])
        let run = try await keel.start(Logging(), input: "x", runID: "logged")
        #expect(run.status == .completed)
        let logs = try #require(try run.output?.decode(as: Logs.self))
        #expect(logs.inStep == ["run": "logged", "step": "0", "step_name": "fetch"])
        #expect(logs.inScope == ["run": "logged", "step": "branch/1", "step_name": "send"])
        #expect(logs.between.isEmpty)
        #expect(StepLogMetadataTests.metadata().isEmpty)
    }
}
