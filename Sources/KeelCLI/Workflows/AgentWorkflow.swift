import Foundation
import KeelApp
import KeelCore
import KeelMCP
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
        /// Tools whose calls need a person's approval, and how long they may wait.
        var approvals: Approvals?
        /// MCP servers whose tools the agent gets (`stdio:COMMAND ARGS` or an http(s) URL).
        var mcp: [String]?
    }

    /// `--require-approval` and its timeout.
    struct Approvals: Codable, Sendable, Hashable {
        var tools: [String]
        var timeout: String?
        var onTimeout: ApprovalTimeoutPolicy
    }

    let name = "agent"
    var ledger: any SpendLedger = InMemorySpendLedger()
    var observer: (@Sendable (AgentEvent) -> Void)?
    /// What the run's input may make this process do: which MCP servers it may start or reach,
    /// where the key may go, where alerts may go.
    var authority = RunAuthority()

    func run(_ input: Input, context: RunContext) async throws -> AgentRunResult {
        try authority.checkMCP(input.mcp ?? [])
        try authority.checkModel(input.model, usesMCP: !(input.mcp ?? []).isEmpty)
        return try await MCPToolsets.withTools(try Self.servers(input.mcp)) { mcpTools in
            try await Self.agent(for: input, ledger: ledger, alerts: authority.alertHook(for: input.controls), extraTools: mcpTools)
                .run(input.prompt, in: context, observer: observer)
        }
    }

    /// The MCP servers of `--mcp`.
    static func servers(_ specs: [String]?) throws -> [MCPServer] {
        var servers: [MCPServer] = []
        for spec in specs ?? [] {
            do {
                servers.append(try MCPServer(parsing: spec))
            } catch {
                throw CLIError("--mcp: \(error.message)")
            }
        }
        return servers
    }

    static func agent(for input: Input, ledger: any SpendLedger, alerts: any AlertHook, extraTools: [AnyTool] = []) throws -> Agent {
        var configuration = AgentConfiguration()
        configuration.maxSteps = input.maxSteps
        configuration.maxOutputTokens = input.maxOutputTokens
        configuration.streaming = input.streaming
        let settings = input.controls ?? ControlSettings()
        var controls = AgentControls()
        let spend = settings.spendControls(ledger: ledger, alerts: alerts)
        if spend.isLimited { controls.spend = spend }
        controls.retry = settings.retry
        controls.modelTimeout = settings.modelTimeout
        let tools = try Toolsets.tools(named: input.toolsets.joined(separator: ",")) + extraTools
        // Every call of a CLI agent is governed and audited; --require-approval adds approvals.
        var governance = ToolGovernance()
        if let approvals = input.approvals {
            let known = Set(tools.map(\.name))
            if let unknown = approvals.tools.first(where: { !known.contains($0) }) {
                throw CLIError("--require-approval names '\(unknown)', which is not one of the agent's tools (\(known.sorted().joined(separator: ", ")))")
            }
            var policy = ToolPolicy(approval: .always)
            policy.approvalTimeout = approvals.timeout.flatMap { Duration(parsing: $0) }
            policy.onApprovalTimeout = approvals.onTimeout
            for tool in approvals.tools { governance.policies[tool] = policy }
        }
        governance.alerts = alerts
        controls.governance = governance
        return Agent(
            model: settings.pace(try input.model.makeModel(), spec: input.model), instructions: input.instructions, tools: tools,
            configuration: configuration, controls: controls)
    }
}

/// The runtime the CLI runs runs with: every workflow it knows, with the store as the spend
/// ledger and the alert hook of the run's settings.
enum CLIRuntime {
    static func make(
        store: any RunStore & SpendLedger, authority: RunAuthority, report: ReportWorkflow = ReportWorkflow(), agent: AgentWorkflow = AgentWorkflow(),
        configuration: DurableRuntime.Configuration = DurableRuntime.Configuration()
    ) -> DurableRuntime {
        var report = report
        report.ledger = store
        report.authority = authority
        var agent = agent
        agent.ledger = store
        agent.authority = authority
        return DurableRuntime(
            store: store, workflows: [AnyWorkflow(report), AnyWorkflow(agent)], configuration: configuration, alerts: ConsoleAlertHook(),
            runAlerts: { authority.alertHook(for: $0) })
    }
}
