import Benchmark
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelSQLite

/// Issue 19's memory workload: 1,000 agent runs at once in this process, five calculator steps
/// each (six model calls), against a `keel chaos-llm` serving the arithmetic model in a process of
/// its own (so that its memory is not counted). `KEEL_BINARY` names the `keel` to start (default:
/// `../.build/debug/keel`).
func withArithmeticServer<T>(_ body: (String) async throws -> T) async throws -> T {
    let keel = ProcessInfo.processInfo.environment["KEEL_BINARY"] ?? "../.build/debug/keel"
    let server = Process()
    server.executableURL = URL(fileURLWithPath: keel)
    server.arguments = ["chaos-llm", "--port", "0", "--model", "arithmetic"]
    let output = Pipe()
    server.standardOutput = output
    try server.run()
    // Stopped, not waited for: this process ends soon after.
    defer { server.terminate() }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let chunk = output.fileHandleForReading.availableData
        guard !chunk.isEmpty else { break }
        line.append(chunk)
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let url = text.split(whereSeparator: \.isWhitespace).last.map(String.init), url.hasPrefix("http://127.0.0.1:") else {
        throw ServerFailure(description: "keel chaos-llm said '\(text)'")
    }
    return try await body(url)
}

struct ServerFailure: Error, CustomStringConvertible {
    let description: String
}

let prompt = "What is 1 plus 2 plus 3 plus 4 plus 5 plus 6?"
/// `KEEL_BENCH_RUNS` changes the count (1 gives the process's own floor).
let runs = ProcessInfo.processInfo.environment["KEEL_BENCH_RUNS"].flatMap(Int.init) ?? 1_000

/// One agent run as a durable workflow.
struct Arithmetic: Workflow {
    let name = "arithmetic"
    let model: any ChatModel
    func run(_ input: String, context: RunContext) async throws -> Int {
        var configuration = AgentConfiguration()
        configuration.maxSteps = 8
        return try await Agent(model: model, tools: Calculator.tools, configuration: configuration).run(input, in: context).steps.count
    }
}

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal, .custom("model steps", polarity: .prefersLarger, useScalingFactor: false)],
        warmupIterations: 0, maxDuration: .seconds(300), maxIterations: 1)

    Benchmark("1,000 concurrent agent runs x 5 tool steps over HTTP, in memory", configuration: configuration) { benchmark in
        try await withArithmeticServer { url in
            // `KEEL_BENCH_IN_PROCESS=1`: the same model without HTTP, to tell the transport's share.
            let model: any ChatModel = ProcessInfo.processInfo.environment["KEEL_BENCH_IN_PROCESS"] == "1"
                ? ArithmeticModel() : OpenAIChatModel(name: "arithmetic", configuration: OpenAIConfiguration(baseURL: url))
            var agentConfiguration = AgentConfiguration()
            agentConfiguration.maxSteps = 8
            let agent = Agent(model: model, tools: Calculator.tools, configuration: agentConfiguration)
            benchmark.startMeasurement()
            let steps = await withTaskGroup(of: Int.self) { group in
                for _ in 0..<runs { group.addTask { await agent.run(prompt).steps.count } }
                return await group.reduce(0, +)
            }
            benchmark.stopMeasurement()
            precondition(steps == runs * 6, "\(steps) steps")
            benchmark.measurement(.custom("model steps", polarity: .prefersLarger, useScalingFactor: false), steps)
        }
    }

    Benchmark("1,000 concurrent agent runs x 5 tool steps over HTTP, durable on SQLite", configuration: configuration) { benchmark in
        try await withArithmeticServer { url in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keel-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let store = try SQLiteRunStore(path: folder.appendingPathComponent("keel.db").path)
            let workflow = Arithmetic(model: OpenAIChatModel(name: "arithmetic", configuration: OpenAIConfiguration(baseURL: url)))
            let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
            benchmark.startMeasurement()
            let steps = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<runs {
                    group.addTask { try await runtime.start(workflow, input: prompt, runID: "run-\(index)").output?.intValue ?? 0 }
                }
                return try await group.reduce(0, +)
            }
            benchmark.stopMeasurement()
            precondition(steps == runs * 6, "\(steps) steps")
            benchmark.measurement(.custom("model steps", polarity: .prefersLarger, useScalingFactor: false), steps)
        }
    }
}
