import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// `keel agent` exporting its trace over OTLP/HTTP to a real receiver (opentelemetry-proto, in
/// Python) on loopback, killed once with SIGKILL and resumed.
@Suite(.timeLimit(.minutes(5))) struct TraceExportTests {
    static let key = "sk-otlp-secret-7f3a9c41"

    struct ExportedSpan: Decodable {
        var trace_id: String
        var span_id: String
        var parent_span_id: String
        var name: String
        var status: Int
        var attributes: [String: JSONValue]
        var service: String?
    }

    func exported(in folder: URL) throws -> [ExportedSpan] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("spans.jsonl"), encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try JSONDecoder().decode(ExportedSpan.self, from: Data($0.utf8)) }
    }

    @Test func aKilledAndResumedAgentRunIsOneNestedTraceWithoutTheKey() async throws {
        let work = try TemporaryFolder.make("keel-otlp")
        let db = work.appendingPathComponent("keel.db").path
        // Two tool calls; the third call hangs until the process is killed, and after the resume
        // it is answered.
        let resumed = Locked(false)
        let calls = Locked(0)
        let responder = OpenAICompatibleServer.Responder.numbered { call, _ in
            calls.withLock { $0 = max($0, call) }
            switch call {
            case 1: return .toolCalls([ToolCall(id: "call_1", name: "multiply", arguments: #"{"a":12,"b":7}"#)], usage: Usage(inputTokens: 120, outputTokens: 18))
            case 2: return .toolCalls([ToolCall(id: "call_2", name: "add", arguments: #"{"a":84,"b":5}"#)], usage: Usage(inputTokens: 160, outputTokens: 17))
            default:
                return resumed.withLock { $0 } ? .text("12 times 7 plus 5 is 89.", usage: Usage(inputTokens: 200, outputTokens: 11)) : ServerReply(body: .hang)
            }
        }
        try await OTLPReceiver.withReceiver(folder: work) { receiver in
            let second = try await OpenAICompatibleServer.withServer(responder: responder) { server in
                let environment = [
                    "OPENAI_API_KEY": Self.key, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver, "OTEL_BSP_SCHEDULE_DELAY": "100",
                    "OTEL_SERVICE_NAME": "keel-trace-test",
                ]
                let arguments = [
                    "agent", "--db", db, "--run-id", "traced", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL, "--tools", "calculator",
                    "What is 12 times 7 plus 5?",
                ]
                let first = try BackgroundKeel(arguments, log: work.appendingPathComponent("first.log"), environment: environment)
                let started = ContinuousClock.now
                while calls.withLock({ $0 }) < 3, ContinuousClock.now - started < .seconds(60) { try await Task.sleep(for: .milliseconds(20)) }
                #expect(calls.withLock { $0 } == 3, "\(first.output)")
                // The finished steps' spans are exported within the batch delay; then the kill.
                try await Task.sleep(for: .seconds(1))
                first.killHard()
                resumed.withLock { $0 = true }

                var debugging = environment
                debugging["KEEL_LOG_LEVEL"] = "debug"
                let second = try await KeelProcess.run(arguments, environment: debugging, killAfter: nil, directory: work)
                #expect(second.status == 0, "\(second.stderr)")
                #expect(second.stdout == "12 times 7 plus 5 is 89.\n")
                return second
            }
            let spans = try exported(in: work)
            let received = try Data(contentsOf: work.appendingPathComponent("received.bin"))

            // One trace, from both processes.
            #expect(!spans.isEmpty)
            #expect(Set(spans.map(\.trace_id)).count == 1, "\(Set(spans.map(\.trace_id)))")
            #expect(spans.allSatisfy { $0.service == "keel-trace-test" })
            let byID = Dictionary(spans.map { ($0.span_id, $0) }, uniquingKeysWith: { first, _ in first })
            let chats = spans.filter { $0.name.hasPrefix("chat ") }
            let tools = spans.filter { $0.name.hasPrefix("execute_tool ") }
            // Two calls finished before the kill and one after it (the hung one never ended);
            // the steps replayed after the resume called nothing and made no spans.
            #expect(chats.count == 3)
            #expect(tools.map(\.name).sorted() == ["execute_tool add", "execute_tool multiply"])
            for span in chats + tools {
                let step = try #require(byID[span.parent_span_id], "\(span.name) has no exported parent")
                #expect(step.name.hasPrefix("step "))
            }
            // The resumed process: run → agent → step → chat, under the first process's run.
            let run = try #require(spans.first { $0.name == "workflow agent" })
            #expect(run.attributes["keel.replayed"] == true)
            #expect(run.attributes["keel.run.id"] == "traced")
            #expect(!run.parent_span_id.isEmpty)  // the first execution's run span, kept with the run
            let lastChat = try #require(chats.last)
            let lastStep = try #require(byID[lastChat.parent_span_id])
            let agent = try #require(byID[lastStep.parent_span_id])
            #expect(agent.name == "invoke_agent")
            #expect(agent.parent_span_id == run.span_id)

            // The GenAI attributes, with the journal's token counts.
            let store = try SQLiteRunStore(path: db)
            let metered = try await store.journal(runID: "traced").filter { $0.metering != nil && $0.scope.isEmpty }
            #expect(metered.count == 3)
            let chatByStep = Dictionary(chats.compactMap { chat in byID[chat.parent_span_id].map { ($0.name, chat) } }, uniquingKeysWith: { first, _ in first })
            for entry in metered {
                let chat = try #require(chatByStep["step \(entry.name)"], "no chat span for \(entry.name)")
                #expect(chat.attributes["gen_ai.operation.name"] == "chat")
                #expect(chat.attributes["gen_ai.provider.name"] == "openai")
                #expect(chat.attributes["gen_ai.request.model"] == "gpt-4o-mini")
                #expect(chat.attributes["gen_ai.usage.input_tokens"]?.intValue == entry.metering?.usage.inputTokens)
                #expect(chat.attributes["gen_ai.usage.output_tokens"]?.intValue == entry.metering?.usage.outputTokens)
            }
            // Log lines say which trace they belong to.
            let traceID = try #require(spans.first?.trace_id)
            #expect(second.stderr.contains("trace_id=\(traceID)"), "\(second.stderr.suffix(2_000))")
            // The key is in no byte the receiver got.
            #expect(received.count > 0)
            #expect(received.range(of: Data(Self.key.utf8)) == nil)
        }
    }
}
