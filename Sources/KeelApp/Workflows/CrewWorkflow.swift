import Foundation
import KeelCore
import KeelCrew
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

    /// The tools a crew's agents may name.
    public static let toolNames: Set<String> = Set(Toolsets.names)

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
        var crew = try crew(definition, input: input)
        crew.rateLimiters = rateLimiters
        crew.observer = observer
        return try await crew.kickoff(inputs: input.inputs, in: context)
    }

    /// The crew of `definition` with the models, controls and tools `input` and this process give.
    func crew(_ definition: CrewDefinition, input: Input) throws -> Crew {
        let settings = input.controls ?? ControlSettings()
        let (authority, ledger, limiters) = (authority, ledger, rateLimiters)
        var crew = try definition.crew(
            inputs: input.inputs, toolNames: Self.toolNames, tools: { try Toolsets.tools(named: $0) },
            model: { llm in
                let spec = input.model ?? ModelSpec(spec: Self.spec(llm))
                try authority.checkModel(spec, usesMCP: false)
                return settings.pace(try spec.makeModel(), spec: spec, limiters: limiters)
            }, outputDirectory: outputDirectory)
        var controls = AgentControls()
        let spend = settings.spendControls(ledger: ledger, alerts: authority.alertHook(for: settings))
        if spend.isLimited { controls.spend = spend }
        controls.retry = settings.retry
        controls.modelTimeout = settings.modelTimeout
        crew.controls = controls
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
