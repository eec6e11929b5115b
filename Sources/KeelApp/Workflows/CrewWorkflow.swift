import Foundation
import KeelCore
import KeelCrew
import KeelMCP
import KeelRuntime

/// `keel crew run DIR`: a crew defined in CrewAI's YAML, as a durable run.
///
/// The definition is this process's — read from the folder the command names, never from the
/// run's input, which keeps only the inputs, the model and the definition's digest: a run resumed
/// under a changed definition is refused instead of continuing with other agents or tasks.
public struct CrewWorkflow: Workflow {
    /// The run's settings; everything needed to resume it besides the definition.
    public struct Input: Codable, Sendable, Hashable {
        /// The folder the definition was read from (for reports; the process reads its own).
        public var directory: String
        /// The definition's digest when the run started.
        public var digest: String
        /// What fills the `{name}` placeholders.
        public var inputs: [String: String]
        /// The model of every agent and the manager, overriding the definition's `llm` fields;
        /// `nil` uses them (and the offline `crew` model where none is named).
        public var model: ModelSpec?
        public var controls: ControlSettings?

        public init(directory: String, digest: String, inputs: [String: String], model: ModelSpec? = nil, controls: ControlSettings? = nil) {
            self.directory = directory
            self.digest = digest
            self.inputs = inputs
            self.model = model
            self.controls = controls
        }
    }

    public let name = "crew"
    /// The crew this process runs.
    public var definition: CrewDefinition?
    /// Where tasks' output files go; `nil` writes none.
    public var outputDirectory: String?
    public var ledger: any SpendLedger = InMemorySpendLedger()
    public var authority = RunAuthority()
    public var rateLimiters = RateLimiters.shared
    public var observer: (@Sendable (CrewEvent) -> Void)?
    /// The MCP servers this process lets a crew's agents use, by the name they give in their
    /// `tools` (`mcp:NAME`: every tool of that server). The process's configuration, never a run's.
    public var mcpServers: [String: MCPServer] = [:]

    /// The built-in tools a crew's agents may name.
    public static let toolNames: Set<String> = Set(Toolsets.names)

    /// The tools a crew's agents may name here: the built-in ones and `mcp:NAME` for each server.
    public var availableTools: Set<String> {
        Self.toolNames.union(mcpServers.keys.map { "mcp:\($0)" })
    }

    public init(definition: CrewDefinition? = nil, outputDirectory: String? = nil, observer: (@Sendable (CrewEvent) -> Void)? = nil) {
        self.definition = definition
        self.outputDirectory = outputDirectory
        self.observer = observer
    }

    public func run(_ input: Input, context: RunContext) async throws -> CrewResult {
        guard let definition else {
            throw InputError("this process has no crew definition for run '\(context.runID)'; resume it with keel crew run \(input.directory) --run-id \(context.runID)")
        }
        guard definition.digest == input.digest else {
            throw InputError(
                "the crew definition in \(definition.directory) changed since run '\(context.runID)' started; restore the files it started with or start a new run")
        }
        let named = Set(definition.agents.flatMap(\.tools).filter { $0.hasPrefix("mcp:") }.map { String($0.dropFirst(4)) })
        return try await withMCPTools(named.sorted()) { mcpTools in
            var crew = try crew(definition, input: input, mcpTools: mcpTools)
            crew.rateLimiters = rateLimiters
            crew.observer = observer
            return try await crew.kickoff(inputs: input.inputs, in: context)
        }
    }

    /// Runs `body` with the tools of the named MCP servers, by name, connected for its length.
    private func withMCPTools<T: Sendable>(_ names: [String], _ body: ([String: [AnyTool]]) async throws -> T) async throws -> T {
        var toolsets: [String: MCPToolset] = [:]
        do {
            for name in names {
                guard let server = mcpServers[name] else {
                    throw InputError("the crew names the MCP server '\(name)', which this process was not given (--mcp \(name)=SPEC)")
                }
                toolsets[name] = try await MCPToolset.connect(server)
            }
            let result = try await body(toolsets.mapValues(\.tools))
            for toolset in toolsets.values { await toolset.close() }
            return result
        } catch {
            for toolset in toolsets.values { await toolset.close() }
            throw error
        }
    }

    /// The crew of `definition` with the models, controls and tools `input` and this process give.
    func crew(_ definition: CrewDefinition, input: Input, mcpTools: [String: [AnyTool]]) throws -> Crew {
        let settings = input.controls ?? ControlSettings()
        let (authority, ledger, limiters) = (authority, ledger, rateLimiters)
        let usesMCP = !mcpTools.isEmpty
        var crew = try definition.crew(
            inputs: input.inputs, toolNames: availableTools,
            tools: { name in
                if name.hasPrefix("mcp:") { return mcpTools[String(name.dropFirst(4))] ?? [] }
                return try Toolsets.tools(named: name)
            },
            model: { llm in
                let spec = input.model ?? ModelSpec(spec: Self.spec(llm))
                try authority.checkModel(spec, usesMCP: usesMCP)
                return settings.pace(try spec.makeModel(), spec: spec, limiters: limiters)
            }, outputDirectory: outputDirectory)
        crew.controls = settings.agentControls(ledger: ledger, alerts: authority.alertHook(for: settings))
        return crew
    }

    /// A Keel model spec for an `llm` field: CrewAI's `provider/model` becomes `provider:model`;
    /// none is the offline `crew` model.
    static func spec(_ llm: String?) -> String {
        guard let llm else { return "crew" }
        if llm.contains(":") || !llm.contains("/") { return llm }
        return llm.replacingOccurrences(of: "/", with: ":", options: [], range: llm.range(of: "/"))
    }
}
