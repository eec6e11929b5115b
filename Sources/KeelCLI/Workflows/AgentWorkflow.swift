import Foundation
import KeelCore
import KeelRuntime

/// `keel agent` with `--db`/`--run-id`: one agent as a durable workflow.
struct AgentWorkflow: Workflow {
    struct Input: Codable, Sendable, Hashable {
        var prompt: String
        var instructions: String?
        var toolsets: [String]
        var maxSteps: Int
        var maxOutputTokens: Int
        var streaming: Bool
        var model: ModelSpec
    }

    let name = "agent"
    var observer: (@Sendable (AgentEvent) -> Void)?

    func run(_ input: Input, context: RunContext) async throws -> AgentRunResult {
        try await Self.agent(for: input).run(input.prompt, in: context, observer: observer)
    }

    static func agent(for input: Input) throws -> Agent {
        var configuration = AgentConfiguration()
        configuration.maxSteps = input.maxSteps
        configuration.maxOutputTokens = input.maxOutputTokens
        configuration.streaming = input.streaming
        return Agent(
            model: try input.model.makeModel(), instructions: input.instructions,
            tools: try Toolsets.tools(named: input.toolsets.joined(separator: ",")), configuration: configuration)
    }
}

/// The runtime the CLI runs runs with: every workflow it knows.
enum CLIRuntime {
    static func make(
        store: any RunStore, report: ReportWorkflow = ReportWorkflow(), agent: AgentWorkflow = AgentWorkflow()
    ) -> DurableRuntime {
        DurableRuntime(store: store, workflows: [AnyWorkflow(report), AnyWorkflow(agent)])
    }
}
