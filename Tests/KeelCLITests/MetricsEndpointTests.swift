import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// `keel worker --metrics-port`: Prometheus text at /metrics, scraped while a batch runs, whose
/// counters equal what `keel costs` says of the same runs, and whose gauges say what the store holds.
@Suite(.timeLimit(.minutes(3))) struct MetricsEndpointTests {
    /// The samples of `text` named `name` whose labels include `labels`, summed.
    func value(_ name: String, _ labels: [String: String] = [:], in text: String) -> Double {
        var total = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            let (metric, labelText) = series.firstIndex(of: "{").map { (series[..<$0], series[$0...]) } ?? (series, "")
            guard metric == name else { continue }
            if labels.allSatisfy({ labelText.contains("\($0.key)=\"\($0.value)\"") }) { total += value }
        }
        return total
    }

    @Test func countersScrapedDuringABatchMatchKeelCosts() async throws {
        let work = try TemporaryFolder.make("keel-metrics")
        let db = work.appendingPathComponent("keel.db").path
        let runs = 6
        // One tool call, then the answer: two model calls and a tool call a run.
        // The very first request is answered 429: a backoff and a retry.
        let responder = OpenAICompatibleServer.Responder.numbered { number, request in
            let turns = request.json?["messages"]?.arrayValue?.count ?? 0
            if number == 1 { return .rateLimited(retryAfter: 1) }
            return turns < 2
                ? .toolCalls([ToolCall(id: "call_1", name: "add", arguments: #"{"a":1,"b":2}"#)], usage: Usage(inputTokens: 150, cachedInputTokens: 50, outputTokens: 12))
                : .text("3", usage: Usage(inputTokens: 180, outputTokens: 3))
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let environment = ["OPENAI_API_KEY": "sk-metrics-test"]
            for number in 1...runs {
                let submitted = try await KeelProcess.run(
                    ["submit", "agent", "--store", db, "--run-id", "m-\(number)", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL,
                     "--tools", "calculator", "What is 1 plus 2?"], environment: environment, killAfter: nil, directory: work)
                #expect(submitted.status == 0, "\(submitted.stderr)")
            }
            // One more run, whose tool call waits for a person: a waiting run and a pending approval.
            let asking = try await KeelProcess.run(
                ["submit", "agent", "--store", db, "--run-id", "m-ask", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL,
                 "--tools", "calculator", "--require-approval", "add", "What is 1 plus 2?"], environment: environment, killAfter: nil, directory: work)
            #expect(asking.status == 0, "\(asking.stderr)")
            let worker = try BackgroundKeel(
                ["worker", "--store", db, "--concurrency", "2", "--poll", "50ms", "--metrics-port", "0", "--store-metrics-interval", "100ms",
                 "--allow-base-url", server.baseURL],
                log: work.appendingPathComponent("worker.log"), environment: environment)
            let started = ContinuousClock.now
            let metricsPort = try await worker.port(after: "metrics at")

            // Scraped while the batch runs: the calls so far, never more than the batch makes.
            let during = try await LoopbackConnection.get(port: metricsPort, path: "/metrics")
            #expect(during.hasPrefix("HTTP/1.1 200"))
            #expect(value("keel_model_calls_total", in: during) <= Double(2 * runs + 1))

            let store = try SQLiteRunStore(path: db)
            var completed = 0
            while completed < runs, ContinuousClock.now - started < .seconds(60) {
                completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 100)).count
                try await Task.sleep(for: .milliseconds(50))
            }
            let states = try await store.listRuns(RunQuery(limit: 100)).map { "\($0.id) \($0.status) \($0.failure.map { "\($0)" } ?? "")" }
            #expect(completed == runs, "\(worker.output.suffix(3_000)) \(states)")
            // The store's gauges, read every 100 ms: six runs completed, one waiting for its approval.
            var after = ""
            while ContinuousClock.now - started < .seconds(60) {
                after = try await LoopbackConnection.get(port: metricsPort, path: "/metrics")
                if value("keel_runs", ["status": "completed"], in: after) == Double(runs), value("keel_approvals_pending", in: after) == 1 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(value("keel_runs", ["status": "completed"], in: after) == Double(runs), "\(after)")
            #expect(value("keel_runs", ["status": "waiting"], in: after) == 1)
            #expect(value("keel_runs", ["status": "pending"], in: after) == 0)
            #expect(value("keel_approvals_pending", in: after) == 1)
            #expect(value("keel_dead_letters_open", in: after) == 0)
            // Anything else is not found.
            #expect(try await LoopbackConnection.get(port: metricsPort, path: "/").hasPrefix("HTTP/1.1 404"))
            #expect(await worker.terminate(timeout: .seconds(20)) == 0)

            let costs = try await KeelProcess.run(["costs", "--by", "model", "--json", "--db", db], killAfter: nil, directory: work)
            let row = try #require(try JSONValue(parsing: costs.stdout)[0], "\(costs.stdout)")
            let model = ["model": "openai:gpt-4o-mini"]
            #expect(value("keel_model_calls_total", model.merging(["outcome": "ok"]) { $1 }, in: after) == Double(row["steps"]?.intValue ?? -1))
            #expect(value("keel_model_tokens_total", model.merging(["kind": "input"]) { $1 }, in: after) == Double(row["usage"]?["input_tokens"]?.intValue ?? -1))
            #expect(value("keel_model_tokens_total", model.merging(["kind": "cached_input"]) { $1 }, in: after) == Double(row["usage"]?["cached_input_tokens"]?.intValue ?? -1))
            #expect(value("keel_model_tokens_total", model.merging(["kind": "output"]) { $1 }, in: after) == Double(row["usage"]?["output_tokens"]?.intValue ?? -1))
            #expect(abs(value("keel_model_cost_usd_total", model, in: after) - (row["cost_usd"]?.doubleValue ?? -1)) < 1e-9)
            #expect(value("keel_model_calls_total", in: after) == Double(2 * runs + 1))
            #expect(value("keel_tool_calls_total", ["tool": "add", "outcome": "ok"], in: after) == Double(runs))
            #expect(value("keel_runs_finished_total", ["status": "completed"], in: after) == Double(runs))
            #expect(value("keel_journal_write_duration_seconds_count", in: after) > 0)
            #expect(value("keel_rate_limited_total", model, in: after) == 1)
            #expect(value("keel_retry_backoff_seconds_count", in: after) == 1)
            #expect(value("keel_model_call_duration_seconds_count", model, in: after) == Double(2 * runs + 1))
        }
    }
}
