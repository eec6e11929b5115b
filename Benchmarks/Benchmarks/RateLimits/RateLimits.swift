import Benchmark
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting

/// 200 agent runs started at once against KeelTesting's chaos server configured by `chaos`
/// (answering with the arithmetic model, 20 ms of latency), each asking `prompt(index)`, on
/// `model(provider)`; records the rate achieved (of 600 a minute), the 429s, the requests and the
/// failed runs, and returns the server's counts.
@discardableResult
func agentWorkload(
    chaos: ChaosConfiguration, model: @escaping (OpenAIChatModel) -> any ChatModel, prompt: @escaping @Sendable (Int) -> String, benchmark: Benchmark
) async throws -> ChaosStats.Counts {
    var chaos = chaos
    chaos.latency = .milliseconds(20)
    let stats = ChaosStats()
    try await OpenAICompatibleServer.withServer(responder: .chaos(chaos, stats: stats, answeringWith: .model(ArithmeticModel()))) { server in
        let provider = OpenAIChatModel(name: "gpt-4o-mini", configuration: OpenAIConfiguration(baseURL: server.baseURL))
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 100
        let agent = Agent(model: model(provider), tools: Calculator.tools, configuration: configuration)
        let start = ContinuousClock.now
        benchmark.startMeasurement()
        let outcomes = await withTaskGroup(of: AgentOutcome.self) { group in
            for index in 0..<200 {
                group.addTask { await agent.run(prompt(index)).outcome }
            }
            var outcomes: [AgentOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        benchmark.stopMeasurement()
        let seconds = (ContinuousClock.now - start).timeInterval
        let counts = stats.snapshot
        let achieved = Double(counts.answered) / seconds
        benchmark.measurement(.custom("% of the allowed rate", polarity: .prefersLarger, useScalingFactor: false), Int((achieved / 10 * 100).rounded()))
        benchmark.measurement(.custom("answered 429 per 1,000 requests", polarity: .prefersSmaller, useScalingFactor: false), counts.rateLimited * 1_000 / max(1, counts.requests))
        benchmark.measurement(.custom("requests", polarity: .prefersSmaller, useScalingFactor: false), counts.requests)
        benchmark.measurement(.custom("failed runs", polarity: .prefersSmaller, useScalingFactor: false), outcomes.filter { !$0.isCompleted }.count)
    }
    return stats.snapshot
}

/// 200 concurrent agent runs of three model steps each (two calculator calls and an answer)
/// against a server that allows 600 requests and 300,000 tokens a minute, its buckets empty at
/// the start (a busy minute before).
func rateLimitWorkload(paced: Bool, benchmark: Benchmark) async throws {
    var chaos = ChaosConfiguration()
    chaos.requestsPerMinute = 600
    chaos.tokensPerMinute = 300_000
    chaos.startWithFullBuckets = false
    let limits = RateLimits(requestsPerMinute: 600, tokensPerMinute: 300_000)
    try await agentWorkload(
        chaos: chaos, model: { paced ? RateLimitedModel($0, limiter: RateLimiter(limits: limits, startFull: false)) : $0 as any ChatModel },
        prompt: { "What is \($0) plus \($0 + 1) plus \($0 + 2)?" }, benchmark: benchmark)
}

/// Issue 19's workload: 200 agent runs started at once, four model calls each (three calculator
/// steps and the answer), against a server that allows 600 requests a minute over one-second
/// windows (10 at once), its buckets full at the start; the runs paced by one limiter with
/// `limits`, retrying a 429 as the default policy does (honouring `Retry-After`).
func burstWorkload(limits: RateLimits, benchmark: Benchmark) async throws {
    var chaos = ChaosConfiguration()
    chaos.requestsPerMinute = 600
    chaos.burstSeconds = 1
    let counts = try await agentWorkload(
        chaos: chaos, model: { RateLimitedModel($0, limiter: RateLimiter(limits: limits)) }, prompt: { "What is \($0) plus 1 plus 2 plus 3?" },
        benchmark: benchmark)
    benchmark.measurement(.custom("answered 429", polarity: .prefersSmaller, useScalingFactor: false), counts.rateLimited)
}

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [
            .wallClock, .custom("% of the allowed rate", polarity: .prefersLarger, useScalingFactor: false),
            .custom("answered 429 per 1,000 requests", polarity: .prefersSmaller, useScalingFactor: false),
            .custom("requests", polarity: .prefersSmaller, useScalingFactor: false),
            .custom("failed runs", polarity: .prefersSmaller, useScalingFactor: false),
        ],
        warmupIterations: 0, maxDuration: .seconds(400), maxIterations: 1)

    Benchmark("600 agent steps at 600 requests/min, paced by RateLimitedModel", configuration: configuration) { benchmark in
        try await rateLimitWorkload(paced: true, benchmark: benchmark)
    }

    Benchmark("600 agent steps at 600 requests/min, pacing off (retries on 429 only)", configuration: configuration) { benchmark in
        try await rateLimitWorkload(paced: false, benchmark: benchmark)
    }

    let burstConfiguration = Benchmark.Configuration(
        metrics: configuration.metrics + [.custom("answered 429", polarity: .prefersSmaller, useScalingFactor: false)],
        warmupIterations: 0, maxDuration: .seconds(400), maxIterations: 1)

    Benchmark("200 runs x 4 calls, server 600/min over 1 s windows, buckets of a whole minute (before)", configuration: burstConfiguration) { benchmark in
        try await burstWorkload(limits: RateLimits(requestsPerMinute: 600, burstSeconds: 60, utilization: 1), benchmark: benchmark)
    }

    Benchmark("200 runs x 4 calls, server 600/min over 1 s windows, default buckets (1 s, 97 %)", configuration: burstConfiguration) { benchmark in
        try await burstWorkload(limits: RateLimits(requestsPerMinute: 600), benchmark: benchmark)
    }
}
