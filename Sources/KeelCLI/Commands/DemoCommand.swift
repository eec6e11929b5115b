import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelRuntime

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write a 161-section report as a durable pipeline that resumes where it stopped.",
        discussion: """
            Each section is one model call, checkpointed to the store; run the command again with the same --run-id \
            after a crash (or Ctrl-C) and it resumes at the next section. Offline by default (the 'writer' model); \
            --model openai:NAME uses a real provider.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var controlOptions: ControlOptions

    @Option(help: "How many sections the report has.")
    var sections = 161

    @Option(name: .customLong("run-id"), help: ArgumentHelp("The run to start or resume (default: a new id).", valueName: "id"))
    var runID: String?

    @Option(help: ArgumentHelp("The durable sleep between sections, such as 2s (default: 2s with a provider, 10ms offline).", valueName: "duration"))
    var pace: String?

    @Option(name: .customLong("context-tokens"), help: "How many tokens of the report so far each section sees.")
    var contextTokens = 2_000

    @Option(help: "What the report is about.")
    var topic = "customer churn"

    @Option(help: ArgumentHelp("Where to write the finished report (default: <run-id>.md).", valueName: "path"))
    var output: String?

    func validate() throws {
        guard sections >= 1 else { throw ValidationError("--sections must be at least 1") }
        guard contextTokens >= 0 else { throw ValidationError("--context-tokens must not be negative") }
        if let pace, Duration(parsing: pace) == nil { throw ValidationError("--pace must be a duration such as 2s or 10ms, got '\(pace)'") }
    }

    /// The report the flags ask for.
    func requestedInput() throws -> ReportWorkflow.Input {
        let spec = modelOptions.spec(offline: "writer")
        let paceDuration = pace.flatMap { Duration(parsing: $0) } ?? (spec.isOffline ? .milliseconds(10) : .seconds(2))
        return ReportWorkflow.Input(
            topic: topic, sections: sections, contextTokens: contextTokens,
            paceMilliseconds: Int(paceDuration.saturatingMilliseconds),
            model: spec, controls: try controlOptions.settings())
    }

    func run() async throws {
        let runID = self.runID ?? newRunID("report")
        let requested = try requestedInput()
        do {
            let opened = try await storeOptions.open()
            let start = try await Application.startOrResume(
                NewRun(id: runID, workflow: "report", input: try JSONValue(encoding: requested), tenant: controlOptions.tenant, deadline: controlOptions.deadlineDate),
                in: opened.store)
            var input = requested
            if let previous = start.previousStatus {
                input = (try? start.record.input.decode(as: ReportWorkflow.Input.self)) ?? requested
                if input != requested && self.runID != nil {
                    Console.line("note: resuming run \(runID) with the settings it started with (\(input.sections) sections, model \(input.model.spec))")
                }
                Console.line("run \(runID): resuming the \(input.sections)-section report (\(previous))")
            } else {
                Console.line("run \(runID): writing a \(input.sections)-section report with \(input.model.spec) into \(storeOptions.location)")
                Console.line("resume it after a crash with: keel demo --run-id \(runID)")
            }
            let modelIdentifier = try input.model.makeModel().identifier
            let bar = ProgressBar()
            let authority = controlOptions.authority(model: modelOptions)
            let runtime = Application.runtime(
                opened, authority: authority, report: ReportWorkflow(progress: { bar.update($0, model: modelIdentifier) }))
            let record = try await runtime.run(runID)
            try finish(record, input: input, model: modelIdentifier)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.from(error)
        }
    }

    private func finish(_ record: RunRecord, input: ReportWorkflow.Input, model: String) throws {
        switch record.status {
        case .completed:
            guard let report = try? record.output?.decode(as: PipelineReport.self) else {
                throw CLIError("run \(record.id) completed but its output is not a report")
            }
            let path = output ?? "\(record.id).md"
            do {
                try report.markdown(title: ReportWorkflow.title(input)).write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError("cannot write the report to \(path): \(error.localizedDescription)")
            }
            let cost = (input.controls?.priceTable ?? .defaults).cost(of: report.usage, model: model).map { String(format: "$%.4f", $0) } ?? "unpriced"
            let partial = report.stoppedAtDeadline ? " (stopped at the deadline after \(report.sections.count) of \(input.sections) sections)" : ""
            Console.line("report written to \(path) · \(report.sections.count) sections · \(report.usage.inputTokens) input + \(report.usage.outputTokens) output tokens · \(cost)\(partial)")
        case .failed:
            let reason = record.failure.map(\.description) ?? "unknown"
            throw CLIError("run \(record.id) failed at \(reason); resume it with: keel demo --run-id \(record.id)")
        case .waiting:
            Console.line("run \(record.id) is waiting\(record.wakeAt.map { " until \($0.formatted(.iso8601))" } ?? ""); resume it with: keel runs resume \(record.id)")
        case .cancelled:
            throw CLIError("run \(record.id) was cancelled")
        case .pending, .running:
            throw CLIError("run \(record.id) is \(record.status) in another process")
        }
    }
}
