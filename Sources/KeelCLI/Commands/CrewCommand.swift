import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelCrew
import KeelMCP
import KeelRuntime

struct CrewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crew",
        abstract: "Run crews of role-playing agents defined in CrewAI's YAML (agents.yaml, tasks.yaml, crew.yaml).",
        discussion: """
            Each task is a durable step and each agent's model and tool calls are steps in the task's scope, so a crew killed at any \
            moment resumes inside the task it was doing with the same --run-id.
            """,
        subcommands: [Run.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start or resume a crew run, with a line per task and the usage per agent.")
        @Argument(help: ArgumentHelp("The folder with agents.yaml and tasks.yaml (or a CrewAI project's config/ folder).", valueName: "dir"))
        var directory: String
        @Option(name: .customLong("input"), help: ArgumentHelp("A value for a {name} placeholder, as name=value (repeatable).", valueName: "name=value"))
        var inputs: [String] = []
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var controlOptions: ControlOptions
        @Option(name: .customLong("run-id"), help: ArgumentHelp("The run to start or resume (default: a new id).", valueName: "id")) var runID: String?
        @Option(name: .customLong("output-dir"), help: ArgumentHelp("Where tasks' output files go (default: the crew's folder).", valueName: "dir"))
        var outputDirectory: String?
        @Option(help: ArgumentHelp(
            "An MCP server the crew's agents may use as tools: mcp:NAME in their tools (repeatable): NAME=stdio:COMMAND ARGS or NAME=http(s)://URL.",
            valueName: "name=server"))
        var mcp: [String] = []
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            let values = try keyValuePairs(inputs, option: "--input")
            let definition: CrewDefinition
            do {
                definition = try CrewDefinition.load(directory: directory)
            } catch let error as CrewError {
                throw CLIError(error.description)
            }
            let servers = try mcpServers()
            var probe = CrewWorkflow()
            probe.mcpServers = servers
            let problems = definition.problems(inputs: values, tools: probe.availableTools)
            guard problems.isEmpty else { throw CLIError("the crew in \(directory) cannot run:\n" + problems.joined(separator: "\n")) }
            let runID = self.runID ?? newRunID("crew")
            let requested = CrewWorkflow.Input(
                directory: directory, digest: definition.digest, inputs: values, model: modelOptions.model == nil ? nil : modelOptions.spec(offline: "crew"),
                controls: try controlOptions.settings())
            let record = try await catching {
                let opened = try await storeOptions.open()
                let start = try await Application.startOrResume(
                    NewRun(id: runID, workflow: "crew", input: try JSONValue(encoding: requested), tenant: controlOptions.tenant, deadline: controlOptions.deadlineDate),
                    in: opened.store)
                if let previous = start.previousStatus {
                    Console.line("run \(runID): resuming the crew in \(directory) (\(previous))")
                } else {
                    Console.line("run \(runID): running the crew in \(directory) into \(storeOptions.location)")
                    Console.line("resume it after a crash with: keel crew run \(directory) --run-id \(runID)")
                }
                let directory = self.directory
                var crew = CrewWorkflow(definition: definition, outputDirectory: outputDirectory ?? directory, observer: { Self.show($0, runID: runID, directory: directory) })
                crew.mcpServers = servers
                let runtime = Application.runtime(opened, authority: controlOptions.authority(model: modelOptions), crew: crew)
                return try await runtime.run(runID)
            }
            try finish(record)
        }

        /// `--mcp name=server` pairs.
        private func mcpServers() throws -> [String: MCPServer] {
            try keyValuePairs(mcp, option: "--mcp").mapValues { spec in
                do {
                    return try MCPServer(parsing: spec)
                } catch let error as MCPToolsetError {
                    throw ValidationError("--mcp: \(error.message)")
                }
            }
        }

        static func show(_ event: CrewEvent, runID: String, directory: String) {
            switch event {
            case .taskStarted(let task, let agent):
                Console.line("task \(task): \(agent) is working")
            case .taskFinished(let output, let replayed):
                let state = output.isCompleted ? "done" : "stopped: \(output.problem ?? output.outcome)"
                Console.line("task \(output.task): \(state)\(replayed ? " (from the journal)" : "")")
            case .awaitingReview(let task, let signal):
                Console.line(
                    "task \(task) waits for a review: keel runs signal \(runID) '\(signal)' --payload '{\"approved\": true}' (or {\"feedback\": \"…\"}), then keel crew run \(directory) --run-id \(runID)")
            }
        }

        private func finish(_ record: RunRecord) throws {
            switch record.status {
            case .completed:
                guard let result = try? record.output?.decode(as: CrewResult.self) else {
                    throw CLIError("run \(record.id) completed but its output is not a crew result")
                }
                if json {
                    Console.line(try JSONValue(encoding: result).prettySerialized())
                    return
                }
                Console.line(result.output)
                for (agent, share) in result.usageByAgent.sorted(by: { $0.key < $1.key }) {
                    Console.line("usage \(agent): \(share.modelCalls) model calls · \(share.usage.inputTokens) in · \(share.usage.outputTokens) out · \(String(format: "$%.4f", share.costUSD))")
                }
                let stopped = result.tasks.first { !$0.isCompleted }
                Console.line(
                    "run \(record.id) \(stopped.map { "stopped at task \($0.task): \($0.problem ?? $0.outcome)" } ?? "completed") after \(result.tasks.count) tasks · \(result.usage.usage.totalTokens) tokens")
            case .failed:
                throw CLIError("run \(record.id) failed at \(record.failure.map(\.description) ?? "unknown"); resume it with: keel crew run \(directory) --run-id \(record.id)")
            default:
                for line in RunOutcome.lines(record, report: .describe) { Console.line(line) }
            }
        }
    }
}
