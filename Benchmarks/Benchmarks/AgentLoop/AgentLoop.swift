import AsyncHTTPClient
import Benchmark
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting
import NIOPosix

/// A model with prebuilt replies: a tool call for each of the first `steps - 1` calls, then an
/// answer. It does no work of its own, so the benchmark measures Keel's loop, not the model.
struct LoopingModel: ChatModel {
    let provider = "bench"
    let name = "looping"
    let steps: Int
    static let call = ChatResponse(
        message: AssistantMessage(toolCalls: [ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":2}"#)]),
        usage: Usage(inputTokens: 100, outputTokens: 10), finishReason: .toolCalls)
    static let answer = ChatResponse(message: AssistantMessage(text: "done"), usage: Usage(inputTokens: 100, outputTokens: 2))

    func respond(to request: ChatRequest) async throws -> ChatResponse {
        // Each step adds an assistant message and a tool result to the user prompt.
        (request.messages.count - 1) / 2 < steps - 1 ? Self.call : Self.answer
    }
}

let stepsPerRun = 10

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

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(5))

    // A thousand runs a sample, so that the harness's own cost per sample (a task, a thread wake)
    // does not land on a run that takes about a hundred microseconds.
    Benchmark("Agent run of \(stepsPerRun) steps, in-process model", configuration: .init(scalingFactor: .kilo)) { benchmark in
        await measureRuns(of: Agent(model: LoopingModel(steps: stepsPerRun), tools: Calculator.tools), benchmark)
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
