import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// Budgets, costs, dead letters, deadlines and alerts through the real `keel` process.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct ControlsCommandTests {
    func folder() throws -> URL {
        try TemporaryFolder.make("keel-controls")
    }

    /// Tool calls forever, each billed as the request's input and the longest reply it allows.
    static let expensive = OpenAICompatibleServer.Responder { request in
        let parsed = request.json.flatMap { try? ChatCompletionsWire.parseRequest($0).request }
        let usage = Usage(inputTokens: parsed?.estimatedInputTokens ?? 0, outputTokens: parsed?.maxOutputTokens ?? 0)
        return .toolCalls([ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":2}"#)], usage: usage)
    }

    @Test func maxCostStopsTheAgentBeforeTheCallThatCouldBreakIt() async throws {
        let work = try folder()
        try await OpenAICompatibleServer.withServer(responder: Self.expensive) { server in
            let output = try await KeelProcess.run(
                ["agent", "--model", "openai:gpt-4o", "--base-url", server.baseURL, "--tools", "calculator", "--max-output-tokens", "500",
                 "--max-cost", "0.06", "--json", "count forever"], killAfter: nil, timeout: .seconds(60), directory: work)
            #expect(output.status == 2)
            #expect(output.stderrLines.last?.hasPrefix("keel: the agent stopped before breaking its budget") == true)
            let report = try JSONValue(parsing: output.stdout)
            #expect(report["outcome"]?["kind"] == "budget_exceeded")
            let input = Double(report["usage"]?["input_tokens"]?.intValue ?? 0)
            let outputTokens = Double(report["usage"]?["output_tokens"]?.intValue ?? 0)
            let spent = (input * 2.5 + outputTokens * 10) / 1e6
            #expect(spent <= 0.06)
            #expect(spent > 0.03)  // it spent what it could, then stopped
            #expect(server.chatRequests.count == report["steps"]?.arrayValue?.count)
        }
    }

    /// Numbers at the edge of `Int` and durations beyond any use are a one-line error or a budget
    /// stop — never a trap (which would end the process with a signal).
    @Test func absurdNumbersAndDurationsAreRefusedNotTrappedOn() async throws {
        let work = try folder()
        try await OpenAICompatibleServer.withServer(responder: Self.expensive) { server in
            let budgeted = try await KeelProcess.run(
                ["agent", "--model", "openai:gpt-4o", "--base-url", server.baseURL, "--tools", "calculator",
                 "--max-output-tokens", String(Int.max), "--max-tokens", "100000", "--json", "count forever"],
                killAfter: nil, timeout: .seconds(60), directory: work)
            #expect(budgeted.status == 2, "\(budgeted.stderr)")
            #expect(try JSONValue(parsing: budgeted.stdout)["outcome"]?["kind"] == "budget_exceeded")
            #expect(server.chatRequests.isEmpty, "the worst case of the first call already breaks the budget")
        }
        for arguments in [
            ["agent", "--model", "test", "--model-timeout", "1e10", "hi"],
            ["agent", "--model", "test", "--deadline", "inf", "hi"],
            ["worker", "--store", "keel.db", "--lease", "1e30"],
            ["demo", "--pace=-1s"],
        ] {
            let output = try await KeelProcess.run(arguments, killAfter: nil, timeout: .seconds(60), directory: work)
            #expect(output.status > 0, "\(arguments): \(output.status) \(output.stderr)")
            #expect(output.stderrLines.count <= 3 && output.stderr.contains("duration"), "\(arguments): \(output.stderr)")
        }
    }

    @Test func costsAreReportedByModelTenantAndRun() async throws {
        let work = try folder()
        let script: [ServerReply] = [
            .toolCalls([ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":2}"#)], usage: Usage(inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 100)),
            .text("3", usage: Usage(inputTokens: 1_200, outputTokens: 20)),
        ]
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let run = try await KeelProcess.run(
                ["agent", "--db", "keel.db", "--run-id", "priced", "--tenant", "acme", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL,
                 "--tools", "calculator", "1+2"], killAfter: nil, directory: work)
            #expect(run.status == 0, "\(run.stderr)")
            let byModel = try await KeelProcess.run(["costs", "--by", "model", "--json"], killAfter: nil, directory: work)
            let rows = try JSONValue(parsing: byModel.stdout)
            let expected = (600 * 0.15 + 400 * 0.075 + 100 * 0.60 + 1_200 * 0.15 + 20 * 0.60) / 1e6
            #expect(rows[0]?["key"] == "openai:gpt-4o-mini")
            #expect(abs((rows[0]?["cost_usd"]?.doubleValue ?? 0) - expected) < 1e-12)
            #expect(rows[0]?["usage"]?["cached_input_tokens"] == 400)
            let byTenant = try await KeelProcess.run(["costs", "--by", "tenant"], killAfter: nil, directory: work)
            #expect(byTenant.stdout.contains("acme"))
            #expect(byTenant.stdout.contains("TOTAL"))
            let bad = try await KeelProcess.run(["costs", "--by", "planet"], killAfter: nil, directory: work)
            #expect(bad.status != 0)
            #expect(bad.stderrLines == ["keel: --by must be run, model, tenant or day, got 'planet'"])
        }
    }

    @Test func aRunThatKeepsFailingIsADeadLetterAndRetriesFromItsStep() async throws {
        let work = try folder()
        let healthy = Locked(false)
        let responder = OpenAICompatibleServer.Responder { request in
            let messages = request.json?["messages"]?.arrayValue?.count ?? 0
            if messages >= 3, !healthy.value { return .error(status: 503, message: "The engine is currently overloaded.", type: "overloaded_error") }
            return messages >= 3 ? .text("3") : .toolCalls([ToolCall(id: "c", name: "add", arguments: #"{"a":1,"b":2}"#)])
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let failed = try await KeelProcess.run(
                ["agent", "--db", "keel.db", "--run-id", "doomed", "--attempts", "2", "--model", "openai:any", "--base-url", server.baseURL,
                 "--tools", "calculator", "1+2"], killAfter: nil, directory: work)
            #expect(failed.status == 1)
            // The dead letter's alert reaches standard error at the default log level.
            #expect(failed.stderr.contains("alert (dead_letter): run doomed (agent) failed at step 4: overloaded"), "\(failed.stderr)")
            let list = try await KeelProcess.run(["dead-letters", "list"], killAfter: nil, directory: work)
            #expect(list.stdout.contains("doomed  agent     4     overloaded  open"))
            let show = try await KeelProcess.run(["dead-letters", "show", "doomed"], killAfter: nil, directory: work)
            #expect(show.stdout.contains("error        step 4: overloaded: HTTP 503: The engine is currently overloaded."))
            #expect(show.stdout.contains("tool-add-c"))
            let requestsBefore = server.chatRequests.count
            #expect(requestsBefore == 3)  // one call, then two attempts at the second
            healthy.withLock { $0 = true }
            let retry = try await KeelProcess.run(["dead-letters", "retry", "doomed"], killAfter: nil, directory: work)
            #expect(retry.status == 0, "\(retry.stderr)")
            // As keel agent would: the answer, then what it took.
            #expect(retry.stdout.hasPrefix("run doomed is completed\nanswer: 3\n2 model calls · "), "\(retry.stdout)")
            #expect(server.chatRequests.count == requestsBefore + 1)  // from the failed step, not from the start
            let after = try await KeelProcess.run(["dead-letters", "list"], killAfter: nil, directory: work)
            #expect(after.stdout == "no dead letters in keel.db\n")
        }
    }

    @Test func budgetAlertsArePostedToTheAlertURL() async throws {
        let work = try folder()
        try await OpenAICompatibleServer.withServer(responder: .scripted([])) { hooks in
            try await OpenAICompatibleServer.withServer(responder: Self.expensive) { server in
                let output = try await KeelProcess.run(
                    ["agent", "--model", "openai:gpt-4o", "--base-url", server.baseURL, "--tools", "calculator", "--max-output-tokens", "500",
                     "--max-cost", "0.06", "--alert-url", "http://127.0.0.1:\(hooks.port)/alerts", "count forever"],
                    killAfter: nil, timeout: .seconds(60), directory: work)
                #expect(output.status == 2)
                #expect(output.stderr.contains("alert (budget_threshold): "), "the alert is on standard error too: \(output.stderr)")
            }
            let posts = hooks.requests.filter { $0.uri == "/alerts" }
            #expect(posts.count == 1)  // 80 % once; the cap itself is never reached
            #expect(posts.first?.json?["alert"]?["kind"] == "budget_threshold")
            #expect(posts.first?.json?["alert"]?["threshold"] == 0.8)
            #expect(posts.first?.json?["text"]?.stringValue?.contains("% of its budget of $0.0600") == true)
        }
    }

    @Test func theDemoStopsAtItsDeadlineWithWhatItHas() async throws {
        let work = try folder()
        let output = try await KeelProcess.run(
            ["demo", "--sections", "161", "--pace", "40ms", "--run-id", "short", "--deadline", "3s"], killAfter: nil, timeout: .seconds(60), directory: work)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("(stopped at the deadline after"))
        let report = try String(contentsOf: work.appendingPathComponent("short.md"), encoding: .utf8)
        let sections = report.components(separatedBy: "\n## ").count - 1
        #expect(sections >= 1)
        #expect(sections < 161)  // 161 sections paced 40 ms apart cannot fit in 3 s
    }

    @Test func badControlFlagsAreOneLine() async throws {
        for arguments in [["agent", "--max-cost", "-1", "hi"], ["agent", "--rpm", "0", "hi"], ["agent", "--deadline", "soon", "hi"],
                          ["agent", "--tenant-daily-cost", "5", "hi"], ["agent", "--prices", "/nope.yaml", "hi"]] {
            let output = try await KeelProcess.run(arguments)
            #expect(output.status != 0, "\(arguments)")
            #expect(output.stderrLines.count == 1, "\(arguments): \(output.stderr)")
        }
    }
}
