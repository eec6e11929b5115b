import ArgumentParser
import Foundation
import KeelCore
import KeelRuntime
import KeelTesting

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run one agent on a prompt.",
        discussion: """
            Offline by default; --model openai:NAME uses an OpenAI-compatible server (OPENAI_API_KEY, OPENAI_BASE_URL or \
            --base-url). With --db or --run-id the run is durable: each model and tool call is journaled, and running the \
            same --run-id again resumes it.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var controlOptions: ControlOptions

    @Option(help: ArgumentHelp("Toolsets to give the agent, comma-separated: calculator.", valueName: "names"))
    var tools: String?

    @Option(name: .customLong("max-steps"), help: "The most model calls the run may make.")
    var maxSteps = 20

    @Option(name: .customLong("max-output-tokens"), help: "The most output tokens per model call.")
    var maxOutputTokens = 1_500

    @Option(help: "System instructions for the agent.")
    var instructions: String?

    @Option(help: ArgumentHelp("Keep the run in this SQLite store (default with --run-id: keel.db).", valueName: "path"))
    var db: String?

    @Option(name: .customLong("run-id"), help: ArgumentHelp("The durable run to start or resume.", valueName: "id"))
    var runID: String?

    @Flag(help: "Stream the reply as it is written.")
    var stream = false

    @Flag(help: "Print the outcome, every step, the usage and the transcript as JSON.")
    var json = false

    @Argument(help: "What to ask the agent.")
    var prompt: String

    func validate() throws {
        guard maxSteps >= 1 else { throw ValidationError("--max-steps must be at least 1") }
        guard maxOutputTokens >= 1 else { throw ValidationError("--max-output-tokens must be at least 1") }
    }

    func run() async throws {
        let toolsets = tools.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        _ = try Toolsets.tools(named: tools)  // refuse unknown toolsets before anything starts
        let input = AgentWorkflow.Input(
            prompt: prompt, instructions: instructions, toolsets: toolsets, maxSteps: maxSteps, maxOutputTokens: maxOutputTokens,
            streaming: stream, model: modelOptions.spec(offline: toolsets.isEmpty ? "test" : "arithmetic"), controls: controlOptions.settings)
        let printStream = stream && !json
        let observer: @Sendable (AgentEvent) -> Void = { event in
            if printStream, case .textDelta(let text) = event { Console.write(text) }
        }
        let result: AgentRunResult
        if db != nil || runID != nil {
            result = try await runDurably(input, observer: observer)
        } else {
            var agent = try AgentWorkflow.agent(for: input, ledger: InMemorySpendLedger())
            agent.controls.deadline = controlOptions.deadlineDate
            result = await agent.run(prompt, observer: observer)
        }
        let identifier = (try? input.model.makeModel().identifier) ?? input.model.spec
        if json {
            Console.line(AgentReport.json(result, model: identifier).prettySerialized())
        } else if let answer = result.answer {
            Console.line(printStream ? "" : answer)
        }
        if let reason = AgentReport.stopReason(result.outcome) {
            if case .modelFailed = result.outcome { throw CLIError(reason, exitCode: 1) }
            throw CLIError(reason, exitCode: 2)
        }
    }

    private func runDurably(_ input: AgentWorkflow.Input, observer: @escaping @Sendable (AgentEvent) -> Void) async throws -> AgentRunResult {
        do {
            let path = db ?? "keel.db"
            let store = try StoreOptions.openStore(path: path)
            let runID = self.runID ?? newRunID("agent")
            if let existing = try await store.run(id: runID) {
                guard existing.workflow == "agent" else { throw CLIError("run '\(runID)' is a '\(existing.workflow)' run, not an agent") }
                if existing.status == .failed || existing.status == .cancelled { _ = try await store.reopen(runID: runID) }
            } else {
                _ = try await store.createRun(NewRun(
                    id: runID, workflow: "agent", input: try JSONValue(encoding: input), tenant: controlOptions.tenant,
                    deadline: controlOptions.deadlineDate))
            }
            if !json { Console.error("run \(runID) in \(path)") }
            let record = try await CLIRuntime.make(store: store, agent: AgentWorkflow(observer: observer), alerts: input.controls?.alertHook ?? LogAlertHook()).run(runID)
            switch record.status {
            case .completed:
                guard let result = try? record.output?.decode(as: AgentRunResult.self) else { throw CLIError("run \(runID) completed without an agent result") }
                return result
            case .failed:
                throw CLIError("run \(runID) failed at \(record.failure.map(\.description) ?? "an unknown step"); resume it with: keel runs resume \(runID)")
            default:
                throw CLIError("run \(runID) is \(record.status)")
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.from(error)
        }
    }
}
