import AsyncHTTPClient
import Benchmark
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting
import NIOPosix
import OTel
import Tracing


/// The local server's side of the loop: a tool call until the transcript holds `stepsPerRun - 1`
/// of them, then the answer.
let loopingResponder = OpenAICompatibleServer.Responder { request in
    let messages = request.json?["messages"]?.arrayValue?.count ?? 1
    return .chat((messages - 1) / 2 < stepsPerRun - 1 ? LoopingModel.call : LoopingModel.answer)
}

/// Measures `agent` answering "go" once per scaled iteration, after one unmeasured run (which
/// opens the HTTP connection, if there is one).
func measureRuns(of agent: Agent, _ benchmark: Benchmark) async {
    _ = await agent.run("warm up the connection")
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        let result = await agent.run("go")
        precondition(result.steps.count == stepsPerRun)
        blackHole(result)
    }
    benchmark.stopMeasurement()
}

/// What the journal of a run in memory costs by itself: a store, a run, its claim and its journal
/// read, then the 19 entries an agent run of `stepsPerRun` steps appends (a model reply, then a tool
/// result, and the answer) — built and appended as `RunContext` does, with no loop around them. The
/// part of the in-process run that the one execution path adds on purpose (every step journaled).
func journalInMemory(runs: Int) async throws {
    let toolResult = ToolResult(callID: "c", name: "add", content: "3")
    for _ in 0..<runs {
        let store = InMemoryRunStore()
        let runID = "memory-bench"
        _ = try await store.createRun(NewRun(id: runID, workflow: "in-memory", input: .null))
        guard case .claimed(let lease, _) = try await store.claim(runID: runID, owner: RunOwner(id: "bench"), leaseDuration: .seconds(3_600)) else {
            preconditionFailure("the run was not claimed")
        }
        blackHole(try await store.journal(runID: runID))
        for position in 0..<(2 * stepsPerRun - 1) {
            let isModel = position.isMultiple(of: 2)
            let reply = position == 2 * stepsPerRun - 2 ? LoopingModel.answer : LoopingModel.call
            let entry = JournalEntry(
                runID: runID, sequence: position, name: isModel ? "model-\(position / 2 + 1)" : "tool-add-c", kind: isModel ? .model : .tool,
                status: .completed, metering: isModel ? StepMetering(model: "bench/looping", usage: reply.usage, costUSD: nil) : nil,
                startedAt: Date(), completedAt: Date())
            if isModel {
                blackHole(try await store.append(entry, result: reply, lease: lease, effects: .none))
            } else {
                blackHole(try await store.append(entry, result: toolResult, lease: lease, effects: .none))
            }
        }
    }
}

/// swift-otel's tracer with every span sampled and batched and exported nowhere, and the task
/// that runs its processor (cancel it when done).
func tracerExportingNowhere() throws -> (any Tracer, Task<Void, any Error>) {
    var configuration = OTel.Configuration.default
    configuration.logs.enabled = false
    configuration.metrics.enabled = false
    configuration.traces.exporter = .none
    let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
    return (tracer, Task { try await service.run() })
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(5))

    // A thousand runs a sample, so that the harness's own cost per sample (a task, a thread wake)
    // does not land on a run that takes about a hundred microseconds.
    Benchmark("Agent run of \(stepsPerRun) steps, in-process model", configuration: .init(scalingFactor: .kilo)) { benchmark in
        await measureRuns(of: Agent(model: LoopingModel(steps: stepsPerRun), tools: Calculator.tools), benchmark)
    }

    // The same run with every span made by swift-otel's tracer (sampled, batched) and exported
    // nowhere: what tracing costs Keel's step, without the network.
    Benchmark("Agent run of \(stepsPerRun) steps, in-process model, traced (OTel, no export)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let (tracer, running) = try tracerExportingNowhere()
        defer { running.cancel() }
        // The harness hands the benchmark to this closure alone; the box carries it into the
        // tracer's scope.
        let measured = UncheckedBox(benchmark)
        await withTracer(tracer) {
            await measureRuns(of: Agent(model: LoopingModel(steps: stepsPerRun), tools: Calculator.tools), measured.value)
        }
    }

    // The tracer's own floor: the 39 spans a traced 10-step run makes (an agent span; per step a
    // step span and its chat or tool span), nested and with as many attributes, and nothing else.
    Benchmark("The 39 spans of a \(stepsPerRun)-step run alone (OTel, no export)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let (tracer, running) = try tracerExportingNowhere()
        defer { running.cancel() }
        let keys = (0..<11).map { "keel.attribute.\($0)" }
        func span(_ name: String, attributes: Int, _ body: () -> Void = {}) {
            let span = tracer.startSpan(name, context: InstrumentationContext.current ?? .topLevel, ofKind: .internal)
            for index in 0..<attributes { span.attributes[keys[index]] = index }
            InstrumentationContext.$current.withValue(span.context) { body() }
            span.end()
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            span("invoke_agent", attributes: 4) {
                for step in 0..<(2 * stepsPerRun - 1) {
                    span("step", attributes: 7) { span(step.isMultiple(of: 2) ? "chat" : "execute_tool", attributes: step.isMultiple(of: 2) ? 11 : 5) }
                }
            }
        }
        benchmark.stopMeasurement()
    }

    Benchmark("In-memory journal of a \(stepsPerRun)-step run alone (19 entries)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        try await journalInMemory(runs: 10)
        benchmark.startMeasurement()
        try await journalInMemory(runs: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
    }

    Benchmark("Agent run of \(stepsPerRun) steps, loopback HTTP") { benchmark in
        try await OpenAICompatibleServer.withServer(responder: loopingResponder) { server in
            let model = OpenAIChatModel(name: "bench", configuration: OpenAIConfiguration(baseURL: server.baseURL))
            await measureRuns(of: Agent(model: model, tools: Calculator.tools), benchmark)
        }
    }

    // The same run with the agent's task, the HTTP client and the server on one event loop
    // thread: no thread is ever woken, so this is the CPU cost of a step (Keel's client side, the
    // server's side and the HTTP stack) without the scheduler's share.
    Benchmark("Agent run of \(stepsPerRun) steps, loopback HTTP, one event loop thread") { benchmark in
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = HTTPClient(eventLoopGroup: group)
        try await withTaskExecutorPreference(EventLoopExecutor(group.next())) {
            try await OpenAICompatibleServer.withServer(eventLoopGroup: group, responder: loopingResponder) { server in
                let model = OpenAIChatModel(name: "bench", configuration: OpenAIConfiguration(baseURL: server.baseURL), client: client)
                await measureRuns(of: Agent(model: model, tools: Calculator.tools), benchmark)
            }
        }
        try await client.shutdown()
        try await group.shutdownGracefully()
    }
}
