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

    struct Line {
        var number: Int
        var runID: String
        var prompt: String
        var instructions: String?
        var tenant: String?
    }

    func run() async throws {
        let lines = try readLines()
        let toolsets = tools.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        _ = try Toolsets.tools(named: tools)
        let settings = try controlOptions.settings()
        let spec = modelOptions.spec(offline: toolsets.isEmpty ? "test" : "arithmetic")
        let store = try await storeOptions.openStore()
        let deadline = controlOptions.deadlineDate
        try await catching {
            for line in lines {
                var lineSettings = settings
                lineSettings.tenant = line.tenant ?? settings.tenant
                let runInput = AgentWorkflow.Input(
                    prompt: line.prompt, instructions: line.instructions, toolsets: toolsets, maxSteps: maxSteps, maxOutputTokens: maxOutputTokens,
                    streaming: false, model: spec, controls: lineSettings)
                _ = try await store.createRun(NewRun(id: line.runID, workflow: "agent", input: try JSONValue(encoding: runInput), tenant: lineSettings.tenant, deadline: deadline))
            }
        }
        let authority = controlOptions.authority(model: modelOptions)
        let runtime = Application.runtime(store: store, authority: authority)
        let progress = BatchProgress(total: lines.count)
        let records = await withTaskGroup(of: (Int, Result<RunRecord, any Error>).self) { group in
            var results = [Result<RunRecord, any Error>?](repeating: nil, count: lines.count)
            var next = 0
            func startNext() {
                guard next < lines.count else { return }
                let index = next
                let runID = lines[index].runID
                group.addTask {
                    do {
                        var record = try await runtime.run(runID)
                        if record.status == .failed, let reopened = try? await store.run(id: runID) { record = reopened }
                        return (index, .success(record))
                    } catch {
                        return (index, .failure(error))
                    }
                }
                next += 1
            }
            for _ in 0..<min(concurrency, lines.count) { startNext() }
            while let (index, result) = await group.next() {
                results[index] = result
                progress.finished(result)
                startNext()
            }
            return results
        }
        progress.done()
        var text = ""
        var failures = 0
        for (line, result) in zip(lines, records) {
            let object = Self.resultLine(line, result ?? .failure(CLIError("not run")), prices: settings.priceTable)
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
    private func readLines() throws -> [Line] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: input))
        } catch {
            throw CLIError("cannot read \(input): \(error.localizedDescription)")
        }
        let batchName = URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
        var lines: [Line] = []
        var problems: [String] = []
        for (offset, raw) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            guard !raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { continue }
            let object: JSONValue
            do {
                object = try JSONValue(parsing: raw)
            } catch {
                problems.append("line \(number) is not JSON (\(error.description))")
                continue
            }
            guard let prompt = object["prompt"]?.stringValue, !prompt.isEmpty else {
                problems.append("line \(number) has no \"prompt\" string")
                continue
            }
            let id = object["id"]?.stringValue ?? "\(batchName)-\(number)-\(Self.fingerprint(raw))"
            lines.append(Line(number: number, runID: id, prompt: prompt, instructions: object["instructions"]?.stringValue, tenant: object["tenant"]?.stringValue))
        }
        guard problems.isEmpty else {
            throw CLIError("\(input): \(problems.prefix(3).joined(separator: "; "))\(problems.count > 3 ? "; and \(problems.count - 3) more" : ""); nothing was run")
        }
        guard !lines.isEmpty else { throw CLIError("\(input) has no prompts") }
        let ids = lines.map(\.runID)
        if Set(ids).count != ids.count { throw CLIError("\(input) gives the same \"id\" to two lines; nothing was run") }
        return lines
    }

    /// Eight hex digits of FNV-1a: the same for the same line in every process.
    static func fingerprint(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return String(String(hash, radix: 16).suffix(8))
    }

    static func resultLine(_ line: Line, _ result: Result<RunRecord, any Error>, prices: PriceTable) -> JSONValue {
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
