import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelTestSupport
import Testing

/// Starting or resuming a run, as `keel agent --run-id` and `keel demo --run-id` do, on a real
/// SQLite file.
@Suite(.timeLimit(.minutes(2))) struct ApplicationTests {
    func opened() async throws -> OpenedStore {
        try await StoreLocation(try TemporaryFolder.make("keel-app").appendingPathComponent("keel.db").path).open()
    }

    func agentRun(_ id: String, prompt: String, toolsets: [String] = []) throws -> NewRun {
        let input = AgentWorkflow.Input(prompt: prompt, toolsets: toolsets, maxSteps: 4, maxOutputTokens: 100, model: ModelSpec(spec: "test"))
        return NewRun(id: id, workflow: "agent", input: try JSONValue(encoding: input))
    }

    @Test func aNewRunStartsAndAKnownOneResumesWithTheInputItStartedWith() async throws {
        let opened = try await opened()
        let started = try await Application.startOrResume(try agentRun("a", prompt: "first"), in: opened.store)
        #expect(!started.isResumed && started.previousStatus == nil && started.record.status == .pending)
        let again = try await Application.startOrResume(try agentRun("a", prompt: "second"), in: opened.store)
        #expect(again.isResumed && again.previousStatus == .pending)
        #expect(try again.record.input.decode(as: AgentWorkflow.Input.self).prompt == "first")
    }

    @Test func aFailedOrCancelledRunIsReopenedAndAnotherWorkflowsRunRefused() async throws {
        let opened = try await opened()
        let runtime = Application.runtime(opened, authority: RunAuthority())
        // An unknown toolset fails the run.
        _ = try await Application.startOrResume(try agentRun("f", prompt: "x", toolsets: ["nonesuch"]), in: opened.store)
        #expect(try await runtime.run("f").status == .failed)
        let reopened = try await Application.startOrResume(try agentRun("f", prompt: "x"), in: opened.store)
        #expect(reopened.previousStatus == .failed && reopened.record.status == .pending)

        _ = try await Application.startOrResume(try agentRun("c", prompt: "x"), in: opened.store)
        _ = try await opened.store.cancel(runID: "c")
        #expect(try await Application.resume("c", in: opened.store)?.status == .pending)
        #expect(try await Application.resume("missing", in: opened.store) == nil)

        await #expect {
            _ = try await Application.startOrResume(NewRun(id: "c", workflow: "report", input: [:]), in: opened.store)
        } throws: { error in
            "\(error)" == "run 'c' is a 'agent' run, not a 'report' run"
        }
    }
}
