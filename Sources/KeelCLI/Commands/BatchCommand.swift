import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import Synchronization

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run the agent over every line of a JSONL file, as separate durable runs.",
        discussion: """
            Each line is a JSON object with a "prompt" (and optionally "id", "instructions", "tenant"). Every line becomes a \
            durable run with an id derived from the file and the line, so running the same batch again skips what is done and \
            resumes what is not. Runs share the process's rate limits and the tenant budgets.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var controlOptions: ControlOptions

    @Option(help: ArgumentHelp("The JSONL file of prompts.", valueName: "file"))
    var input: String

    @Option(help: ArgumentHelp("Where to write one JSON result a line, in input order (default: standard output).", valueName: "file"))
    var output: String?

    @Option(help: "How many runs go at once.")
    var concurrency = 8

    @Option(help: ArgumentHelp("Toolsets for every run, comma-separated: calculator.", valueName: "names"))
    var tools: String?

    @Option(name: .customLong("max-steps"), help: "The most model calls each run may make.")
    var maxSteps = 20

    @Option(name: .customLong("max-output-tokens"), help: "The most output tokens per model call.")
    var maxOutputTokens = 1_500

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        let lines = try readLines()
        let toolsets = tools.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        _ = try Toolsets.tools(named: tools)
        let settings = try controlOptions.settings()
        let spec = modelOptions.spec(offline: toolsets.isEmpty ? "test" : "arithmetic")
        let opened = try await storeOptions.open()
        let deadline = controlOptions.deadlineDate
        try await catching {
            for line in lines {
                var lineSettings = settings
                lineSettings.tenant = line.tenant ?? settings.tenant
                let runInput = AgentWorkflow.Input(
                    prompt: line.prompt, instructions: line.instructions, toolsets: toolsets, maxSteps: maxSteps, maxOutputTokens: maxOutputTokens,
                    streaming: false, model: spec, controls: lineSettings)
                _ = try await opened.store.createRun(NewRun(
                    id: line.runID, workflow: "agent", input: try JSONValue(encoding: runInput), tenant: lineSettings.tenant, deadline: deadline))
            }
        }
        let runtime = Application.runtime(opened, authority: controlOptions.authority(model: modelOptions))
        let progress = BatchProgress(total: lines.count)
        let records = await Batch.run(lines.map(\.runID), on: runtime, concurrency: concurrency, finished: progress.finished)
        progress.done()
        var text = ""
        var failures = 0
        for (line, result) in zip(lines, records) {
            let object = Self.resultLine(line, result, prices: settings.priceTable)
            if object["status"] != "completed" { failures += 1 }
            text += object.serialized() + "\n"
        }
        if let output {
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError("cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            Console.write(text)
        }
        if failures > 0 {
            throw CLIError("\(failures) of \(lines.count) runs did not complete; see keel dead-letters list", exitCode: 1)
        }
    }

    /// The lines of the input, each checked; a bad line stops the batch before anything runs.
    private func readLines() throws -> [Batch.Line] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: input))
        } catch {
            throw CLIError("cannot read \(input): \(error.localizedDescription)")
        }
        do {
            return try Batch.lines(of: data, name: URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent)
        } catch let error as InputError {
            throw CLIError("\(input): \(error.description)")
        }
    }

    static func resultLine(_ line: Batch.Line, _ result: Result<RunRecord, any Error>, prices: PriceTable) -> JSONValue {
        var object: [String: JSONValue] = ["line": .number(Double(line.number)), "id": .string(line.runID)]
        switch result {
        case .failure(let error):
            object["status"] = "error"
            object["error"] = .string(String(describing: error))
        case .success(let record):
            object["status"] = .string(record.status.rawValue)
            if let failure = record.failure { object["error"] = .string(failure.description) }
            if let agent = try? record.output?.decode(as: AgentRunResult.self) {
                object["outcome"] = .string(agent.outcome.kind)
                object["answer"] = agent.answer.map(JSONValue.string) ?? .null
                object["usage"] = AgentReport.usage(agent.usage)
                object["steps"] = .number(Double(agent.steps.count))
            }
        }
        return .object(object)
    }
}

/// A progress line on standard error: runs done, failed, of the total.
final class BatchProgress: Sendable {
    private let counts = Mutex((done: 0, failed: 0))
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) == 1

    init(total: Int) { self.total = total }

    func finished(_ result: Result<RunRecord, any Error>) {
        let (done, failed) = counts.withLock { counts in
            counts.done += 1
            if case .success(let record) = result, record.status == .completed {} else { counts.failed += 1 }
            return (counts.done, counts.failed)
        }
        let line = "batch: \(done)/\(total) runs done · \(failed) not completed"
        if isTerminal {
            FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8))
        } else if done == total || done % max(1, total / 10) == 0 {
            Console.error(line)
        }
    }

    func done() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
