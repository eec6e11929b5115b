import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelMCP
import KeelRuntime

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run one agent on a prompt.",
        discussion: """
            Offline by default; --model openai:NAME uses an OpenAI-compatible server (OPENAI_API_KEY, OPENAI_BASE_URL or \
            --base-url). With --db or --run-id the run is durable: each model and tool call is journaled, and running the \
            same --run-id again resumes it.

            Every call of a durable agent's tools is audited (keel audit). --require-approval makes the named tools wait \
            for a person: the run prints each approval's id and exits, waiting, unless --wait is given; decide with \
            keel approve ID or keel deny ID --reason TEXT, then resume with keel runs resume RUN. --mcp adds the tools of \
            an MCP server, started as a command (stdio:COMMAND ARGS) or reached over streamable HTTP (http://…).
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

    @Option(
        name: [.customLong("store"), .customLong("db")],
        help: ArgumentHelp("Keep the run in this store: a SQLite file or a PostgreSQL URL (default with --run-id: keel.db).", valueName: "path-or-url"))
    var db: String?

    @Option(name: .customLong("run-id"), help: ArgumentHelp("The durable run to start or resume.", valueName: "id"))
    var runID: String?

    @Option(
        name: .customLong("require-approval"),
        help: ArgumentHelp("Tools whose every call waits for a person's approval, comma-separated. Implies a durable run.", valueName: "tools"))
    var requireApproval: String?

    @Option(
        name: .customLong("approval-timeout"),
        help: ArgumentHelp("How long an approval may wait, such as 30m; then --on-approval-timeout applies.", valueName: "duration"))
    var approvalTimeout: String?

    @Option(
        name: .customLong("on-approval-timeout"),
        help: ArgumentHelp("What an approval that waited too long does: deny (the model reads why), escalate (alert, keep waiting) or fail the run.", valueName: "policy"))
    var onApprovalTimeout = "deny"

    @Flag(help: "With --require-approval: keep running and wait for the decisions instead of exiting.")
    var wait = false

    @Option(help: ArgumentHelp("An MCP server whose tools the agent gets: stdio:COMMAND ARGS or an http(s) URL. Repeatable.", valueName: "server"))
    var mcp: [String] = []

    @Flag(help: "Stream the reply as it is written.")
    var stream = false

    @Flag(help: "Print the outcome, every step, the usage and the transcript as JSON.")
    var json = false

    @Argument(help: "What to ask the agent.")
    var prompt: String

    func validate() throws {
        guard maxSteps >= 1 else { throw ValidationError("--max-steps must be at least 1") }
        guard maxOutputTokens >= 1 else { throw ValidationError("--max-output-tokens must be at least 1") }
        for server in mcp {
            do {
                _ = try MCPServer(parsing: server)
            } catch {
                throw ValidationError("--mcp: \(error.message)")
            }
        }
        if let approvalTimeout, Duration(parsing: approvalTimeout) == nil {
            throw ValidationError("--approval-timeout must be a duration such as 30m, got '\(approvalTimeout)'")
        }
        guard ApprovalTimeoutPolicy(rawValue: onApprovalTimeout) != nil else {
            throw ValidationError("--on-approval-timeout must be deny, escalate or fail, got '\(onApprovalTimeout)'")
        }
        if wait && requireApproval == nil { throw ValidationError("--wait needs --require-approval") }
    }

    /// The governance settings of the flags.
    var approvalSettings: AgentWorkflow.Approvals? {
        guard let requireApproval else { return nil }
        let tools = requireApproval.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return AgentWorkflow.Approvals(
            tools: tools, timeout: approvalTimeout, onTimeout: ApprovalTimeoutPolicy(rawValue: onApprovalTimeout) ?? .deny)
    }

    /// The agent run the flags ask for; unknown toolsets are refused.
    func requestedInput() throws -> AgentWorkflow.Input {
        let toolsets = tools.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        _ = try Toolsets.tools(named: tools)  // refuse unknown toolsets before anything starts
        return AgentWorkflow.Input(
            prompt: prompt, instructions: instructions, toolsets: toolsets, maxSteps: maxSteps, maxOutputTokens: maxOutputTokens,
            streaming: stream, model: modelOptions.spec(offline: toolsets.isEmpty ? "test" : "arithmetic"), controls: try controlOptions.settings(),
            approvals: approvalSettings, mcp: mcp.isEmpty ? nil : mcp)
    }

    func run() async throws {
        let input = try requestedInput()
        let printStream = stream && !json
        let observer: @Sendable (AgentEvent) -> Void = { event in
            if printStream, case .textDelta(let text) = event { Console.write(text) }
        }
        let result: AgentRunResult
        if db != nil || runID != nil || requireApproval != nil {
            result = try await runDurably(input, observer: observer)
        } else {
            result = try await MCPToolsets.withTools(try AgentWorkflow.servers(input.mcp)) { mcpTools in
                let alerts = controlOptions.authority(model: modelOptions).alertHook(for: input.controls)
                var agent = try AgentWorkflow.agent(for: input, ledger: InMemorySpendLedger(), alerts: alerts, extraTools: mcpTools)
                agent.controls.deadline = controlOptions.deadlineDate
                return await agent.run(prompt, observer: observer)
            }
        }
        let identifier = (try? input.model.makeModel().identifier) ?? input.model.spec
        if let warning = AgentReport.estimateWarning(result) { Console.error(warning) }
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

    /// Polls the store until the waiting run becomes runnable (a decision, or its timer is due).
    private func waitForDecision(runID: String, store: any KeelStore) async throws -> RunRecord {
        while true {
            guard let record = try await store.run(id: runID) else { throw CLIError("run \(runID) disappeared from the store") }
            if record.status != .waiting { return record }
            if let wakeAt = record.wakeAt, wakeAt <= Date() { return record }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func runDurably(_ input: AgentWorkflow.Input, observer: @escaping @Sendable (AgentEvent) -> Void) async throws -> AgentRunResult {
        do {
            let path = db ?? "keel.db"
            let opened = try await StoreOptions.open(path)
            let store = opened.store
            let runID = self.runID ?? newRunID("agent")
            _ = try await Application.startOrResume(
                NewRun(id: runID, workflow: "agent", input: try JSONValue(encoding: input), tenant: controlOptions.tenant, deadline: controlOptions.deadlineDate),
                in: store)
            if !json { Console.error("run \(runID) in \(opened.location)") }
            // This command is the authority for the run it starts or resumes: its own flags.
            let authority = controlOptions.authority(model: modelOptions, mcp: mcp)
            let runtime = Application.runtime(opened, authority: authority, agent: AgentWorkflow(observer: observer))
            var record = try await runtime.run(runID)
            var announced: Set<String> = []
            while record.status == .waiting {
                let waiting = try await store.approvals(runID: runID, status: nil).filter { $0.status == .pending || $0.status == .escalated }
                for approval in waiting where !announced.contains(approval.request.id) {
                    announced.insert(approval.request.id)
                    Console.line(ApprovalReport.waitingLine(approval))
                }
                guard wait else {
                    let ids = waiting.map(\.request.id)
                    let how = ids.count == 1 ? "keel approve \(ids[0])" : "keel approve ID"
                    throw CLIError(
                        "run \(runID) waits for \(ids.count == 1 ? "approval \(ids[0])" : "\(ids.count) approvals"); decide with \(how) (or keel deny … --reason TEXT), then resume it with: keel runs resume \(runID)",
                        exitCode: 4)
                }
                record = try await waitForDecision(runID: runID, store: store)
                if record.status == .pending || record.status == .waiting { record = try await runtime.run(runID) }
            }
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
