import AsyncHTTPClient
import Benchmark
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting

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

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(5))

    Benchmark("Agent run of \(stepsPerRun) steps, in-process model") { benchmark in
        let agent = Agent(model: LoopingModel(steps: stepsPerRun), tools: Calculator.tools)
        for _ in benchmark.scaledIterations {
            let result = await agent.run("go")
            precondition(result.steps.count == stepsPerRun)
            blackHole(result)
        }
    }

    Benchmark("Agent run of \(stepsPerRun) steps, loopback HTTP") { benchmark in
        let responder = OpenAICompatibleServer.Responder { request in
            let messages = request.json?["messages"]?.arrayValue?.count ?? 1
            return .chat((messages - 1) / 2 < stepsPerRun - 1 ? LoopingModel.call : LoopingModel.answer)
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let model = OpenAIChatModel(name: "bench", configuration: OpenAIConfiguration(baseURL: server.baseURL))
            let agent = Agent(model: model, tools: Calculator.tools)
            _ = await agent.run("warm up the connection")
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let result = await agent.run("go")
                precondition(result.steps.count == stepsPerRun)
                blackHole(result)
            }
            benchmark.stopMeasurement()
        }
    }

    Benchmark("Bare HTTP round trip: AsyncHTTPClient to the local server, tiny JSON body") { benchmark in
        try await OpenAICompatibleServer.withServer(responder: .init { _ in ServerReply(body: .json(["ok": true])) }) { server in
            var request = HTTPClientRequest(url: server.baseURL + "/models")
            request.method = .GET
            _ = try await HTTPClient.keel.execute(request, timeout: .seconds(5)).body.collect(upTo: 1 << 20)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await HTTPClient.keel.execute(request, timeout: .seconds(5)).body.collect(upTo: 1 << 20))
            }
            benchmark.stopMeasurement()
        }
    }
}
