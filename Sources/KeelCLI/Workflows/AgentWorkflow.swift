import Foundation
import KeelCore
import KeelRuntime

/// `keel agent` with `--db`/`--run-id`, and each line of `keel batch`: one agent as a durable
/// workflow.
struct AgentWorkflow: Workflow {
    struct Input: Codable, Sendable, Hashable {
        var prompt: String
        var instructions: String?
        var toolsets: [String]
        var maxSteps: Int
        var maxOutputTokens: Int
        var streaming: Bool
        var model: ModelSpec
        var controls: ControlSettings?
    }

    let name = "agent"
    var ledger: any SpendLedger = InMemorySpendLedger()
    var observer: (@Sendable (AgentEvent) -> Void)?

    func run(_ input: Input, context: RunContext) async throws -> AgentRunResult {
        try await Self.agent(for: input, ledger: ledger).run(input.prompt, in: context, observer: observer)
    }

    static func agent(for input: Input, ledger: any SpendLedger) throws -> Agent {
        var configuration = AgentConfiguration()
        configuration.maxSteps = input.maxSteps
        configuration.maxOutputTokens = input.maxOutputTokens
        configuration.streaming = input.streaming
        let settings = input.controls ?? ControlSettings()
        var controls = AgentControls()
        let spend = try settings.spendControls(ledger: ledger)
        if spend.isLimited { controls.spend = spend }
        controls.retry = settings.retry
        controls.modelTimeout = settings.modelTimeout
        return Agent(
            model: settings.pace(try input.model.makeModel(), spec: input.model), instructions: input.instructions,
            tools: try Toolsets.tools(named: input.toolsets.joined(separator: ",")), configuration: configuration, controls: controls)
    }
}

/// The runtime the CLI runs runs with: every workflow it knows, with the store as the spend
/// ledger and the alert hook of the run's settings.
enum CLIRuntime {
    static func make(
        store: any RunStore & SpendLedger, report: ReportWorkflow = ReportWorkflow(), agent: AgentWorkflow = AgentWorkflow(),
        alerts: any AlertHook = LogAlertHook()
    ) -> DurableRuntime {
        var report = report
        report.ledger = store
        var agent = agent
        agent.ledger = store
        return DurableRuntime(store: store, workflows: [AnyWorkflow(report), AnyWorkflow(agent)], alerts: alerts)
    }
}
