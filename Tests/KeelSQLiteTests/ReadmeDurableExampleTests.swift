import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

// The README's durable workflow, verbatim (the sleep shortened).
struct ReadmeReport: Workflow {
    let name = "report"
    let writer: any ChatModel
    func run(_ input: [String], context: RunContext) async throws -> [String] {
        var sections: [String] = []
        for (index, title) in input.enumerated() {
            sections.append(try await context.step("section-\(index + 1)") {
                try await writer.respond(to: ChatRequest(messages: [.user("Write: \(title)")], maxOutputTokens: 800)).message.text ?? ""
            })
            try await context.sleep(for: .milliseconds(1))
        }
        return sections
    }
}

@Suite(.timeLimit(.minutes(5))) struct ReadmeDurableExampleTests {
    @Test func theReadmeWorkflowRunsAndResumes() async throws {
        let report = ReadmeReport(writer: TestModel())
        let titles = ["Intro", "Findings"]
        let runtime = DurableRuntime(store: try SQLiteRunStore(path: try temporaryStorePath()), workflows: [AnyWorkflow(report)])
        let record = try await runtime.start(report, input: titles, runID: "order-42")
        #expect(record.output == ["Answer to: Write: Intro", "Answer to: Write: Findings"])
        #expect(try await runtime.run("order-42").output == record.output)
    }
}
