import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// `keel agent` exporting its metrics over OTLP/HTTP to a real receiver (opentelemetry-proto, in
/// Python) on loopback: what it sends at exit equals the run's journal.
@Suite(.timeLimit(.minutes(3))) struct OTLPMetricsTests {
    /// The latest value of each series (cumulative counters: the last export holds the total),
    /// summed over the series of `name` whose attributes include `attributes`.
    func total(_ name: String, _ attributes: [String: String] = [:], in points: [OTLPReceiver.DataPoint], count: Bool = false) -> Double {
        var latest: [String: Double] = [:]
        for point in points where point.name == name && attributes.allSatisfy({ point.attributes[$0.key] == $0.value }) {
            latest[point.attributes.sorted { $0.key < $1.key }.description] = count ? Double(point.count ?? 0) : point.value ?? 0
        }
        return latest.values.reduce(0, +)
    }

    @Test func anAgentRunsMetricsReachTheReceiverAndEqualItsJournal() async throws {
        let work = try TemporaryFolder.make("keel-otlp-metrics")
        let db = work.appendingPathComponent("keel.db").path
        let responder = OpenAICompatibleServer.Responder.numbered { call, _ in
            switch call {
            case 1: return .toolCalls([ToolCall(id: "call_1", name: "multiply", arguments: #"{"a":12,"b":7}"#)], usage: Usage(inputTokens: 120, outputTokens: 18))
            case 2: return .toolCalls([ToolCall(id: "call_2", name: "add", arguments: #"{"a":84,"b":5}"#)], usage: Usage(inputTokens: 160, cachedInputTokens: 64, outputTokens: 17))
            default: return .text("89", usage: Usage(inputTokens: 200, outputTokens: 11))
            }
        }
        try await OTLPReceiver.withReceiver(folder: work) { receiver in
            try await OpenAICompatibleServer.withServer(responder: responder) { server in
                // Metrics only: the traces' exporter is switched off.
                let environment = ["OPENAI_API_KEY": "sk-otlp-metrics-5d1e", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver, "OTEL_TRACES_EXPORTER": "none"]
                let result = try await KeelProcess.run(
                    ["agent", "--db", db, "--run-id", "measured", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL, "--tools", "calculator",
                     "What is 12 times 7 plus 5?"], environment: environment, killAfter: nil, directory: work)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout == "89\n")
            }
            let points = try OTLPReceiver.dataPoints(in: work)
            #expect(!points.isEmpty, "no metrics were received")
            #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("spans.jsonl").path), "OTEL_TRACES_EXPORTER=none exports no spans")

            let journal = try await SQLiteRunStore(path: db).journal(runID: "measured")
            let usage = journal.compactMap(\.metering?.usage).reduce(Usage(), +)
            let model = ["model": "openai:gpt-4o-mini"]
            #expect(journal.compactMap(\.metering).count == 3)
            #expect(total("keel_model_calls_total", model.merging(["outcome": "ok"]) { $1 }, in: points) == 3)
            #expect(total("keel_model_tokens_total", model.merging(["kind": "input"]) { $1 }, in: points) == Double(usage.inputTokens))
            #expect(total("keel_model_tokens_total", model.merging(["kind": "cached_input"]) { $1 }, in: points) == Double(usage.cachedInputTokens))
            #expect(total("keel_model_tokens_total", model.merging(["kind": "output"]) { $1 }, in: points) == Double(usage.outputTokens))
            let cost = journal.compactMap(\.metering?.costUSD).reduce(0, +)
            #expect(cost > 0)
            #expect(abs(total("keel_model_cost_usd_total", model, in: points) - cost) < 1e-9)
            #expect(total("keel_tool_calls_total", ["outcome": "ok"], in: points) == 2)
            #expect(total("keel_model_call_duration_seconds", model, in: points, count: true) == 3)
            #expect(total("keel_runs_finished_total", ["status": "completed"], in: points) == 1)
        }
    }
}
