import Benchmark
import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting

/// A fresh store file in a temporary folder.
func freshStore(_ synchronous: SQLiteRunStore.Configuration.Synchronous = .normal) throws -> SQLiteRunStore {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keel-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var configuration = SQLiteRunStore.Configuration()
    configuration.synchronous = synchronous
    return try SQLiteRunStore(path: folder.appendingPathComponent("keel.db").path, configuration: configuration)
}

/// Bytes the store file takes once its write-ahead log is checkpointed into it.
func storeBytes(_ store: SQLiteRunStore) -> Int {
    try? store.checkpoint()
    return (try? FileManager.default.attributesOfItem(atPath: store.path)[.size] as? Int) ?? 0
}

/// A workflow of `count` small steps, as a pipeline or a tool loop journals them.
struct Steps: Workflow {
    let name = "steps"
    func run(_ input: Int, context: RunContext) async throws -> Int {
        var total = 0
        for index in 0..<input {
            total += try await context.step("step-\(index)") { SectionResult(index: index, text: "Section \(index) text of a typical length for one step.") }.index
        }
        return total
    }
}

struct SectionResult: Codable, Sendable {
    var index: Int
    var text: String
}

/// A model with a prebuilt reply per call: a tool call, then (at the last step) an answer.
struct LoopingModel: ChatModel {
    let provider = "bench"
    let name = "looping"
    let steps: Int
    func respond(to request: ChatRequest) async throws -> ChatResponse {
        let step = (request.messages.count - 1) / 2
        if step >= steps - 1 { return ChatResponse(message: AssistantMessage(text: "done"), usage: Usage(inputTokens: 100, outputTokens: 2)) }
        return ChatResponse(
            message: AssistantMessage(text: "Adding step \(step).", toolCalls: [ToolCall(id: "call_\(step)", name: "add", arguments: #"{"a":\#(step),"b":1}"#)]),
            usage: Usage(inputTokens: 100 + step * 40, outputTokens: 20), finishReason: .toolCalls)
    }
}

struct AgentRun: Workflow {
    let name = "agent"
    func run(_ input: Int, context: RunContext) async throws -> Int {
        var configuration = AgentConfiguration()
        configuration.maxSteps = input + 1
        let result = try await Agent(model: LoopingModel(steps: input), tools: Calculator.tools, configuration: configuration).run("count", in: context)
        return result.steps.count
    }
}

/// Fails at its first call, after recording when that was.
final class StopAtFirstCall: ChatModel, Sendable {
    let provider = "bench"
    let name = "stop"
    struct Stop: Error {}
    func respond(to request: ChatRequest) async throws -> ChatResponse { throw Stop() }
}

struct Report: Workflow {
    let name = "report"
    let model: any ChatModel
    func run(_ input: Int, context: RunContext) async throws -> PipelineReport {
        try await SequentialPipeline(
            model: model, kinds: SectionKind.reportKinds, sections: PipelineSection.report(sections: input, topic: "churn"),
            tokenizer: try .cl100kBase()
        ).run(in: context)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(5))

    for synchronous in [SQLiteRunStore.Configuration.Synchronous.normal, .full] {
        Benchmark("Journaled step, SQLite WAL, synchronous \(synchronous.rawValue) (1,000 steps)", configuration: .init(
            metrics: [.wallClock, .cpuTotal, .throughput, .custom("bytes per step", polarity: .prefersSmaller, useScalingFactor: false)],
            scalingFactor: .kilo, maxIterations: 20)
        ) { benchmark in
            let store = try freshStore(synchronous)
            let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(Steps())])
            var runs = 0
            let before = storeBytes(store)
            benchmark.startMeasurement()
            for _ in 0..<benchmark.scaledIterations.count / 1_000 {
                _ = try await runtime.start(Steps(), input: 1_000, runID: "run-\(runs)")
                runs += 1
            }
            benchmark.stopMeasurement()
            benchmark.measurement(.custom("bytes per step", polarity: .prefersSmaller, useScalingFactor: false), (storeBytes(store) - before) / max(1, runs * 1_000))
        }
    }

    for steps in [10, 100, 1_000] {
        Benchmark("Journal of a growing agent transcript, \(steps) steps", configuration: .init(
            metrics: [.wallClock, .custom("journal bytes", polarity: .prefersSmaller, useScalingFactor: false), .custom("journal bytes per step", polarity: .prefersSmaller, useScalingFactor: false), .custom("transcript bytes at the end", polarity: .prefersSmaller, useScalingFactor: false)],
            maxIterations: 3)
        ) { benchmark in
            let store = try freshStore()
            let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(AgentRun())]).start(AgentRun(), input: steps, runID: "agent")
            precondition(record.status == .completed)
            let journal = try await store.journal(runID: "agent")
            let bytes = journal.reduce(0) { $0 + ($1.result?.serializedBytes().count ?? 0) + $1.name.utf8.count }
            benchmark.measurement(.custom("journal bytes", polarity: .prefersSmaller, useScalingFactor: false), bytes)
            benchmark.measurement(.custom("journal bytes per step", polarity: .prefersSmaller, useScalingFactor: false), bytes / steps)
            precondition(record.output?.intValue == steps)
            let snapshot = try await AgentRunBytes.transcriptBytes(steps: steps)
            benchmark.measurement(.custom("transcript bytes at the end", polarity: .prefersSmaller, useScalingFactor: false), snapshot)
        }
    }

    Benchmark("Resume at section 84 of 161", configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], maxIterations: 200)) { benchmark in
        // A report whose first 84 sections are journaled; resuming replays them and reaches section 85.
        let store = try freshStore()
        let writer = ReportWriterModel()
        _ = try await DurableRuntime(store: store, workflows: [AnyWorkflow(Report(model: writer))]).start(Report(model: writer), input: 161, runID: "full")
        _ = try await store.fork(runID: "full", atSequence: 84, newRunID: "at-84")
        let resume = DurableRuntime(store: store, workflows: [AnyWorkflow(Report(model: StopAtFirstCall()))])
        _ = try BPETokenizer.cl100kBase()  // loaded once per process, measured on its own
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            _ = try await store.reopen(runID: "at-84")
            let record = try await resume.run("at-84")
            precondition(record.failure?.sequence == 84)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Load the cl100k_base vocabulary", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try BPETokenizer.makeCl100kBase())
        }
    }
}

/// The size of the transcript an agent run of `steps` steps ends with, as one full-state snapshot
/// would store it.
enum AgentRunBytes {
    static func transcriptBytes(steps: Int) async throws -> Int {
        var configuration = AgentConfiguration()
        configuration.maxSteps = steps + 1
        let result = await Agent(model: LoopingModel(steps: steps), tools: Calculator.tools, configuration: configuration).run("count")
        return try JSONValue(encoding: result.transcript).serializedBytes().count
    }
}
