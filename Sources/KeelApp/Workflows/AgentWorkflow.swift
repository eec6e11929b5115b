import Foundation
import KeelCore
import KeelMCP
import KeelRuntime

/// `keel agent` with `--db`/`--run-id`, and each line of `keel batch`: one agent as a durable
/// workflow, everything needed to resume it in its input.
public struct AgentWorkflow: Workflow {
    /// The agent a run asks for.
    public struct Input: Codable, Sendable, Hashable {
        public var prompt: String
        public var instructions: String?
        /// Toolset names (``Toolsets``).
        public var toolsets: [String]
        public var maxSteps: Int
        public var maxOutputTokens: Int
        public var streaming: Bool
        public var model: ModelSpec
        public var controls: ControlSettings?
        /// Tools whose calls need a person's approval, and how long they may wait.
        public var approvals: Approvals?
        /// MCP servers whose tools the agent gets (`stdio:COMMAND ARGS` or an http(s) URL).
        public var mcp: [String]?

        public init(
            prompt: String, instructions: String? = nil, toolsets: [String] = [], maxSteps: Int, maxOutputTokens: Int, streaming: Bool = false,
            model: ModelSpec, controls: ControlSettings? = nil, approvals: Approvals? = nil, mcp: [String]? = nil
        ) {
            self.prompt = prompt
            self.instructions = instructions
            self.toolsets = toolsets
            self.maxSteps = maxSteps
            self.maxOutputTokens = maxOutputTokens
            self.streaming = streaming
            self.model = model
            self.controls = controls
            self.approvals = approvals
            self.mcp = mcp
        }
    }

    /// `--require-approval` and its timeout.
    public struct Approvals: Codable, Sendable, Hashable {
        public var tools: [String]
        /// A duration such as `10m`.
        public var timeout: String?
        public var onTimeout: ApprovalTimeoutPolicy

        public init(tools: [String], timeout: String? = nil, onTimeout: ApprovalTimeoutPolicy = .deny) {
            self.tools = tools
            self.timeout = timeout
            self.onTimeout = onTimeout
        }

        /// `onTimeout` may be left out (an API request, say): then `deny`.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                tools: try container.decode([String].self, forKey: .tools), timeout: try container.decodeIfPresent(String.self, forKey: .timeout),
                onTimeout: try container.decodeIfPresent(ApprovalTimeoutPolicy.self, forKey: .onTimeout) ?? .deny)
        }
    }

    public let name = "agent"
    /// Where tenant budgets are held (the store, in a durable run).
    public var ledger: any SpendLedger = InMemorySpendLedger()
    /// Told about the agent's progress.
    public var observer: (@Sendable (AgentEvent) -> Void)?
    /// What the run's input may make this process do: which MCP servers it may start or reach,
    /// where the key may go, where alerts may go.
    public var authority = RunAuthority()
    /// The rate limiters the run's model is paced by (the store's, in a durable run).
    public var rateLimiters = RateLimiters.shared

    public init(observer: (@Sendable (AgentEvent) -> Void)? = nil) {
        self.observer = observer
    }

    public func run(_ input: Input, context: RunContext) async throws -> AgentRunResult {
        try authority.checkMCP(input.mcp ?? [])
        try authority.checkModel(input.model, usesMCP: !(input.mcp ?? []).isEmpty)
        return try await MCPToolsets.withTools(try Self.servers(input.mcp)) { mcpTools in
            try await Self.agent(
                for: input, ledger: ledger, rateLimiters: rateLimiters, alerts: authority.alertHook(for: input.controls), extraTools: mcpTools)
                .run(input.prompt, in: context, observer: observer)
        }
    }

    /// The MCP servers of `--mcp`.
    public static func servers(_ specs: [String]?) throws -> [MCPServer] {
        var servers: [MCPServer] = []
        for spec in specs ?? [] {
            do {
                servers.append(try MCPServer(parsing: spec))
            } catch {
                throw InputError("--mcp: \(error.message)")
            }
        }
        return servers
    }

    /// The agent an input describes, its spending held in `ledger`, its model paced by
    /// `rateLimiters` and its alerts sent to `alerts`.
    public static func agent(
        for input: Input, ledger: any SpendLedger, rateLimiters: RateLimiters = .shared, alerts: any AlertHook, extraTools: [AnyTool] = []
    ) throws -> Agent {
        var configuration = AgentConfiguration()
        configuration.maxSteps = input.maxSteps
        configuration.maxOutputTokens = input.maxOutputTokens
        configuration.streaming = input.streaming
        let settings = input.controls ?? ControlSettings()
        var controls = settings.agentControls(ledger: ledger, alerts: alerts)
        let tools = try Toolsets.tools(named: input.toolsets.joined(separator: ",")) + extraTools
        // Every call of a CLI agent is governed and audited; --require-approval adds approvals.
        var governance = ToolGovernance()
        if let approvals = input.approvals {
            let known = Set(tools.map(\.name))
            if let unknown = approvals.tools.first(where: { !known.contains($0) }) {
                throw InputError("--require-approval names '\(unknown)', which is not one of the agent's tools (\(known.sorted().joined(separator: ", ")))")
            }
            var policy = ToolPolicy(approval: .always)
            policy.approvalTimeout = approvals.timeout.flatMap { Duration(parsing: $0) }
            policy.onApprovalTimeout = approvals.onTimeout
            for tool in approvals.tools { governance.policies[tool] = policy }
        }
        governance.alerts = alerts
        controls.governance = governance
        return Agent(
            model: settings.pace(try input.model.makeModel(), spec: input.model, limiters: rateLimiters), instructions: input.instructions, tools: tools,
            configuration: configuration, controls: controls)
    }
}
