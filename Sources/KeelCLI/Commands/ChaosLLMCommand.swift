import ArgumentParser
import Foundation
import KeelApp
import KeelCore

struct ChaosLLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos-llm",
        abstract: "Serve an OpenAI-compatible test LLM on 127.0.0.1, with faults and rate limits to test agents against.",
        discussion: """
            Answers Chat Completions (plain and streamed) with an offline model. Rate limits are answered with 429 and the \
            usual x-ratelimit-* and retry-after headers; faults are drawn from a seeded die.
            """
    )

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8089

    @Option(help: ArgumentHelp("The offline model that answers: arithmetic, writer or test.", valueName: "name"))
    var model = "arithmetic"

    @Option(help: ArgumentHelp("Latency before every answer, such as 50ms.", valueName: "duration"))
    var latency = "0s"

    @Option(help: ArgumentHelp("Random extra latency, up to this much.", valueName: "duration"))
    var jitter = "0s"

    @Option(help: "Requests allowed per minute (429 beyond).")
    var rpm: Int?

    @Option(help: "Tokens allowed per minute (429 beyond).")
    var tpm: Int?

    @Option(help: ArgumentHelp("How much of a minute's limit may come at once, such as 1s (default: the whole minute).", valueName: "duration"))
    var burst: String?

    @Option(name: .customLong("fault-rate"), help: "Share of requests that fail, split evenly between 500, 503, hangs, bodies that are not JSON and truncated streams.")
    var faultRate = 0.0

    @Option(name: .customLong("error-rate"), help: "Share of requests answered 500.")
    var errorRate: Double?

    @Option(name: .customLong("overload-rate"), help: "Share of requests answered 503.")
    var overloadRate: Double?

    @Option(name: .customLong("hang-rate"), help: "Share of requests never answered.")
    var hangRate: Double?

    @Option(name: .customLong("malformed-rate"), help: "Share of requests answered with a body that is not JSON.")
    var malformedRate: Double?

    @Option(name: .customLong("truncate-rate"), help: "Share of requests whose stream is cut off.")
    var truncateRate: Double?

    @Option(help: "The seed of the fault dice.")
    var seed: UInt64 = 1

    func validate() throws {
        for (name, rate) in [("fault", faultRate), ("error", errorRate ?? 0), ("overload", overloadRate ?? 0), ("hang", hangRate ?? 0), ("malformed", malformedRate ?? 0), ("truncate", truncateRate ?? 0)] {
            guard (0...1).contains(rate) else { throw ValidationError("--\(name)-rate must be between 0 and 1") }
        }
        if let burst, Duration(parsing: burst).map({ $0 <= .zero || $0 > .seconds(60) }) ?? true {
            throw ValidationError("--burst must be a duration from 10ms to 60s, such as 1s")
        }
        for (name, value) in [("latency", latency), ("jitter", jitter)] where Duration(parsing: value) == nil {
            throw ValidationError("--\(name) must be a duration such as 50ms")
        }
    }

    func run() async throws {
        let answering: any ChatModel
        switch model {
        case "arithmetic": answering = ArithmeticModel()
        case "test": answering = TestModel()
        case "writer": answering = ReportWriterModel()
        default: throw CLIError("unknown model '\(model)': use arithmetic, writer or test")
        }
        var configuration = ChaosConfiguration.faults(faultRate)
        configuration.latency = Duration(parsing: latency) ?? .zero
        configuration.latencyJitter = Duration(parsing: jitter) ?? .zero
        configuration.requestsPerMinute = rpm
        configuration.tokensPerMinute = tpm
        configuration.burstSeconds = burst.flatMap { Duration(parsing: $0) }.map(\.timeInterval)
        if let errorRate { configuration.serverErrorRate = errorRate }
        if let overloadRate { configuration.overloadRate = overloadRate }
        if let hangRate { configuration.hangRate = hangRate }
        if let malformedRate { configuration.malformedRate = malformedRate }
        if let truncateRate { configuration.truncateRate = truncateRate }
        configuration.seed = seed
        try await OpenAICompatibleServer.run(port: port, responder: .chaos(configuration, answeringWith: .model(answering))) { server in
            Console.line("keel chaos-llm listening on \(server.baseURL)")
        }
    }
}
