import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelTestSupport
import Synchronization
import Testing

/// `keel batch`'s lines and its scheduler, on a real SQLite file.
@Suite(.timeLimit(.minutes(2))) struct BatchTests {
    @Test func linesGetStableIdsAndBlankLinesAreSkipped() throws {
        let text = #"""
            {"prompt": "one"}

            {"prompt": "two", "id": "mine", "tenant": "acme", "instructions": "be brief"}
            """#
        let lines = try Batch.lines(of: Data(text.utf8), name: "jobs")
        #expect(lines.map(\.number) == [1, 3])
        #expect(lines[0].runID == "jobs-1-\(Batch.fingerprint(Data(#"{"prompt": "one"}"#.utf8)))")
        #expect(lines[1] == Batch.Line(number: 3, runID: "mine", prompt: "two", instructions: "be brief", tenant: "acme"))
        #expect(try Batch.lines(of: Data(text.utf8), name: "jobs") == lines)
    }

    @Test func badLinesAreNamedAndNothingRuns() {
        #expect {
            _ = try Batch.lines(of: Data("{\"prompt\": \"ok\"}\nnot json\n{\"id\": \"x\"}\n".utf8), name: "b")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("line 2 is not JSON") && text.contains("line 3 has no \"prompt\" string") && text.hasSuffix("nothing was run")
        }
        #expect(throws: InputError.self) { try Batch.lines(of: Data("\n \n".utf8), name: "b") }
        #expect(throws: InputError.self) {
            try Batch.lines(of: Data("{\"prompt\": \"a\", \"id\": \"x\"}\n{\"prompt\": \"b\", \"id\": \"x\"}".utf8), name: "b")
        }
    }

    @Test func runsGoSomeAtATimeAndComeBackInOrderAndAgainRunNothing() async throws {
        let opened = try await StoreLocation(try TemporaryFolder.make("keel-batch").appendingPathComponent("keel.db").path).open()
        let ids = (1...6).map { "run-\($0)" }
        for (index, id) in ids.enumerated() {
            let input = AgentWorkflow.Input(
                prompt: "prompt \(index)", toolsets: index == 4 ? ["nonesuch"] : [], maxSteps: 3, maxOutputTokens: 50, model: ModelSpec(spec: "test"))
            _ = try await opened.store.createRun(NewRun(id: id, workflow: "agent", input: try JSONValue(encoding: input)))
        }
        let runtime = Application.runtime(opened, authority: RunAuthority())
        let told = Atomic(0)
        let results = await Batch.run(ids, on: runtime, concurrency: 2, finished: { _ in told.add(1, ordering: .relaxed) })
        #expect(told.load(ordering: .relaxed) == 6)
        let records = try results.map { try $0.get() }
        #expect(records.map(\.id) == ids)
        #expect(records.map(\.status) == [.completed, .completed, .completed, .completed, .failed, .completed])
        #expect(records[4].failure != nil)
        let journals = try await ids.asyncMap { try await opened.store.journal(runID: $0).count }

        let again = await Batch.run(ids, on: runtime, concurrency: 3)
        #expect(try again.map { try $0.get().status } == records.map(\.status))
        #expect(try await ids.asyncMap { try await opened.store.journal(runID: $0).count } == journals)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
