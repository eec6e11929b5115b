import Foundation
import KeelCore
import KeelRuntime
import Yams

/// A crew as CrewAI users write it: `agents.yaml` and `tasks.yaml` in CrewAI's documented format,
/// and an optional `crew.yaml` for the process, the manager and model defaults.
///
/// ```yaml
/// # agents.yaml
/// researcher:
///   role: >
///     {topic} Senior Data Researcher
///   goal: Uncover cutting-edge developments in {topic}
///   backstory: You're a seasoned researcher …
///   tools: [calculator]
///
/// # tasks.yaml
/// research_task:
///   description: Conduct a thorough research about {topic}
///   expected_output: A list with 10 bullet points about {topic}
///   agent: researcher
///
/// # crew.yaml
/// process: hierarchical      # or sequential (the default)
/// manager_llm: openai:gpt-4o # or manager_agent: <key>
/// llm: crew                  # the model of agents that name none
/// ```
///
/// Loading checks the shape of every entry; ``problems(inputs:tools:)`` checks references, tools
/// and placeholders. Every error names the file, the line and the field
/// (`tasks.yaml:7: research_task.agent: …`). Fields CrewAI has and Keel does not use (`verbose`,
/// `cache`, `memory`, …) are listed in ``ignoredFields``.
public struct CrewDefinition: Sendable {
    /// Where a value was written.
    public struct Location: Sendable, Hashable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var description: String { "\(file):\(line)" }
    }

    public struct AgentEntry: Sendable {
        public var key: String
        public var role: String
        public var goal: String
        public var backstory: String
        /// The `llm` field: a Keel model spec (`openai:gpt-4o`) or CrewAI's `provider/model`.
        public var llm: String?
        public var tools: [String]
        public var allowDelegation: Bool
        public var maxIterations: Int?
        public var maxRequestsPerMinute: Int?
        /// `max_execution_time`, in seconds.
        public var maxExecutionTime: Int?
        /// Where each field (and the entry itself, under its key) was written.
        public var locations: [String: Location]
    }

    public struct TaskEntry: Sendable {
        public var name: String
        public var description: String
        public var expectedOutput: String
        public var agent: String?
        public var context: [String]?
        public var outputFile: String?
        public var isAsync: Bool
        public var humanInput: Bool
        /// A rule the answer must meet, checked by a model (CrewAI's string guardrail).
        public var guardrail: String?
        public var guardrailMaxRetries: Int
        /// `output_schema`: a JSON Schema written in YAML.
        public var outputSchema: JSONSchema?
        public var locations: [String: Location]
    }

    public struct Settings: Sendable {
        /// `sequential` or `hierarchical`.
        public var process: String = "sequential"
        public var managerLLM: String?
        public var managerAgent: String?
        /// The model of agents that name none.
        public var llm: String?
        public var maxRequestsPerMinute: Int?
        public var locations: [String: Location] = [:]
    }

    public var agents: [AgentEntry]
    public var tasks: [TaskEntry]
    public var settings: Settings
    /// The folder the files were read from.
    public var directory: String
    /// The SHA-256 of the files as read: a resumed run checks it, so that it never continues
    /// under a definition other than the one it started with.
    public var digest: String

    /// Fields of CrewAI's that Keel reads and does not use.
    public static let ignoredFields: Set<String> = [
        "verbose", "cache", "memory", "allow_code_execution", "code_execution_mode", "multimodal", "reasoning", "max_reasoning_attempts",
        "respect_context_window", "max_retry_limit", "system_template", "prompt_template", "response_template", "knowledge_sources",
        "embedder", "function_calling_llm", "step_callback", "use_system_prompt", "inject_date", "date_format", "callback", "markdown",
        "create_directory", "output_json", "output_pydantic", "config", "name", "planning", "planning_llm", "share_crew", "full_output",
        "output_log_file", "tools_handler", "language", "prompt_file", "manager_callbacks",
    ]

    /// Reads `agents.yaml`, `tasks.yaml` and (if present) `crew.yaml` from `directory`, or from
    /// its `config/` folder as a CrewAI project keeps them.
    public static func load(directory: String) throws -> CrewDefinition {
        let base = URL(fileURLWithPath: directory, isDirectory: true)
        let folder = FileManager.default.fileExists(atPath: base.appendingPathComponent("agents.yaml").path) ? base : base.appendingPathComponent("config")
        func read(_ name: String, required: Bool) throws -> String? {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                if required { throw CrewError("\(name): not found in \(directory) (nor in its config/ folder)") }
                return nil
            }
            let data = try Data(contentsOf: url)
            guard data.count <= 1_000_000 else { throw CrewError("\(name): \(data.count) bytes; a crew definition may be at most 1 MB") }
            guard let text = String(data: data, encoding: .utf8) else { throw CrewError("\(name): not UTF-8 text") }
            return text
        }
        let agentsText = try read("agents.yaml", required: true) ?? ""
        let tasksText = try read("tasks.yaml", required: true) ?? ""
        let crewText = try read("crew.yaml", required: false)
        return try parse(agents: agentsText, tasks: tasksText, crew: crewText, directory: directory)
    }

    /// A definition from the files' texts.
    public static func parse(agents agentsText: String, tasks tasksText: String, crew crewText: String?, directory: String = ".") throws -> CrewDefinition {
        let agents = try YAMLFile("agents.yaml", agentsText).entries().map { try agent($0) }
        let tasks = try YAMLFile("tasks.yaml", tasksText).entries().map { try task($0) }
        var settings = Settings()
        if let crewText, let root = try YAMLFile("crew.yaml", crewText).root() {
            settings = try crewSettings(root)
        }
        let digest = SHA256.hexDigest([agentsText, tasksText, crewText ?? ""].joined(separator: "\u{0}"))
        return CrewDefinition(agents: agents, tasks: tasks, settings: settings, directory: directory, digest: digest)
    }

    // MARK: Entries

    private static func agent(_ entry: YAMLEntry) throws -> AgentEntry {
        let fields = try entry.fields(
            known: ["role", "goal", "backstory", "llm", "tools", "allow_delegation", "max_iter", "max_rpm", "max_execution_time"])
        return AgentEntry(
            key: entry.key, role: try fields.text("role"), goal: try fields.text("goal"), backstory: try fields.text("backstory"),
            llm: try fields.optionalText("llm"), tools: try fields.names("tools") ?? [], allowDelegation: try fields.flag("allow_delegation") ?? false,
            maxIterations: try fields.integer("max_iter", in: 1...500), maxRequestsPerMinute: try fields.integer("max_rpm", in: 1...1_000_000),
            maxExecutionTime: try fields.integer("max_execution_time", in: 1...86_400), locations: fields.locations)
    }

    private static func task(_ entry: YAMLEntry) throws -> TaskEntry {
        let fields = try entry.fields(known: [
            "description", "expected_output", "agent", "context", "output_file", "async_execution", "human_input", "guardrail",
            "guardrail_max_retries", "output_schema",
        ])
        return TaskEntry(
            name: entry.key, description: try fields.text("description"), expectedOutput: try fields.text("expected_output"),
            agent: try fields.optionalText("agent"), context: try fields.names("context"), outputFile: try fields.optionalText("output_file"),
            isAsync: try fields.flag("async_execution") ?? false, humanInput: try fields.flag("human_input") ?? false,
            guardrail: try fields.optionalText("guardrail"), guardrailMaxRetries: try fields.integer("guardrail_max_retries", in: 0...20) ?? 3,
            outputSchema: try fields.json("output_schema").map(JSONSchema.init(jsonValue:)), locations: fields.locations)
    }

    private static func crewSettings(_ entry: YAMLEntry) throws -> Settings {
        let fields = try entry.fields(known: ["process", "manager_llm", "manager_agent", "llm", "max_rpm"])
        var settings = Settings()
        settings.process = try fields.optionalText("process") ?? "sequential"
        guard ["sequential", "hierarchical"].contains(settings.process) else {
            throw fields.error("process", "must be sequential or hierarchical, not '\(settings.process)'")
        }
        settings.managerLLM = try fields.optionalText("manager_llm")
        settings.managerAgent = try fields.optionalText("manager_agent")
        settings.llm = try fields.optionalText("llm")
        settings.maxRequestsPerMinute = try fields.integer("max_rpm", in: 1...1_000_000)
        settings.locations = fields.locations
        return settings
    }

    // MARK: Checks

    /// Every problem with the definition for a kickoff with `inputs`, when the tools named
    /// `tools` exist: agents, tasks and context that are not defined, tools that do not exist,
    /// placeholders the inputs do not fill — each with its file, line and field.
    public func problems(inputs: [String: String], tools: Set<String>) -> [String] {
        var problems: [String] = []
        let keys = agents.map(\.key)
        func at(_ locations: [String: Location], _ field: String, _ owner: String) -> String {
            "\((locations[field] ?? locations[""]).map(\.description) ?? "?"): \(owner).\(field)"
        }
        func placeholders(_ text: String, _ locations: [String: Location], _ field: String, _ owner: String) {
            for name in CrewTemplate.placeholders(in: text) where inputs[name] == nil {
                problems.append("\(at(locations, field, owner)): uses {\(name)}, which the inputs do not give (--input \(name)=…)")
            }
        }
        if tasks.isEmpty { problems.append("tasks.yaml: defines no task") }
        for agent in agents {
            placeholders(agent.role, agent.locations, "role", agent.key)
            placeholders(agent.goal, agent.locations, "goal", agent.key)
            placeholders(agent.backstory, agent.locations, "backstory", agent.key)
            for tool in agent.tools where !tools.contains(tool) {
                problems.append("\(at(agent.locations, "tools", agent.key)): no tool named '\(tool)' (tools: \(tools.sorted().joined(separator: ", ")))")
            }
        }
        let hierarchical = settings.process == "hierarchical"
        var earlier: Set<String> = []
        for task in tasks {
            placeholders(task.description, task.locations, "description", task.name)
            placeholders(task.expectedOutput, task.locations, "expected_output", task.name)
            if let agent = task.agent, !keys.contains(agent) {
                problems.append("\(at(task.locations, "agent", task.name)): the agent '\(agent)' is not defined in agents.yaml (agents: \(keys.joined(separator: ", ")))")
            } else if task.agent == nil, !hierarchical {
                problems.append("\(task.locations[""].map(\.description) ?? "?"): \(task.name).agent: missing; a sequential crew needs an agent for every task")
            }
            for name in task.context ?? [] where !earlier.contains(name) {
                let defined = tasks.contains { $0.name == name }
                problems.append("\(at(task.locations, "context", task.name)): the task '\(name)' \(defined ? "comes after this one" : "is not defined in tasks.yaml")")
            }
            if let file = task.outputFile, CrewFiles.relativePath(file) == nil {
                problems.append("\(at(task.locations, "output_file", task.name)): '\(file)' must be a relative path inside the crew's folder")
            }
            earlier.insert(task.name)
        }
        if let manager = settings.managerAgent, !keys.contains(manager) {
            problems.append("\(at(settings.locations, "manager_agent", "crew")): the agent '\(manager)' is not defined in agents.yaml")
        }
        return problems
    }

    /// The crew, with models from `model` (given an agent's `llm`, or `nil` for the default) and
    /// tools from `tools`. Throws ``CrewError`` with every problem.
    public func crew(
        inputs: [String: String], toolNames: Set<String>, tools: (String) throws -> [AnyTool], model: (String?) throws -> any ChatModel,
        outputDirectory: String?
    ) throws -> Crew {
        let problems = problems(inputs: inputs, tools: toolNames)
        guard problems.isEmpty else { throw CrewError(problems.joined(separator: "\n")) }
        var members = try agents.map { entry in
            CrewAgent(
                key: entry.key, role: entry.role, goal: entry.goal, backstory: entry.backstory, tools: try entry.tools.flatMap { try tools($0) },
                model: try entry.llm.map { try model($0) }, allowDelegation: entry.allowDelegation, maxIterations: entry.maxIterations ?? 20,
                maxRequestsPerMinute: entry.maxRequestsPerMinute, maxExecutionTime: entry.maxExecutionTime.map { .seconds($0) })
        }
        let defaultModel = try model(settings.llm)
        var process = CrewProcess.sequential
        if settings.process == "hierarchical" {
            if let key = settings.managerAgent, let index = members.firstIndex(where: { $0.key == key }) {
                process = .hierarchical(CrewManager(agent: members.remove(at: index)))
            } else {
                process = .hierarchical(CrewManager(model: try settings.managerLLM.map { try model($0) }))
            }
        }
        let crewTasks = tasks.map { entry in
            CrewTask(
                name: entry.name, description: entry.description, expectedOutput: entry.expectedOutput, agent: entry.agent, context: entry.context,
                outputSchema: entry.outputSchema,
                guardrail: entry.guardrail.map { rule in
                    let checker = (entry.agent.flatMap { key in members.first { $0.key == key }?.model }) ?? defaultModel
                    return OutputGuardrail.model("guardrail", model: checker, policy: rule, maxRetries: entry.guardrailMaxRetries)
                },
                humanInput: entry.humanInput, outputFile: entry.outputFile, isAsync: entry.isAsync)
        }
        return Crew(
            agents: members, tasks: crewTasks, process: process, model: defaultModel, maxRequestsPerMinute: settings.maxRequestsPerMinute,
            outputDirectory: outputDirectory)
    }
}
