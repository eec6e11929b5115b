import Foundation
import InMemoryTracing
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing
import Tracing

/// Spans of a durable agent run, recorded by an in-memory tracer bound to the test's task.
@Suite(.timeLimit(.minutes(2))) struct TracingTests {
    func spans(named prefix: String, in spans: [FinishedInMemorySpan]) -> [FinishedInMemorySpan] {
        spans.filter { $0.operationName.hasPrefix(prefix) }
    }

    @Test func aResumedRunContinuesItsTraceAndItsSpansNestRunStepModelAndTool() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let tracer = InMemoryTracer()
        // Two tool calls, then the provider fails: the run fails at its third model call.
        let first = ScriptedModel([
            .toolCall("multiply", arguments: ["a": 12, "b": 7]),
            .toolCall("add", arguments: ["a": 84, "b": 5]),
            .error(ModelError(.server, message: "the provider fell over", statusCode: 500)),
        ])
        let failed = try await withTracer(tracer) {
            try await DurableRuntime(store: store, workflows: [AnyWorkflow(CalculatorAgent(model: first))])
                .start(CalculatorAgent(model: first), input: "What is 12 times 7 plus 5?", runID: "traced")
        }
        #expect(failed.status == .failed)
        let before = tracer.popFinishedSpans()

        let second = ScriptedModel([.text("89")])
        _ = try await store.reopen(runID: "traced")
        let done = try await withTracer(tracer) {
            try await DurableRuntime(store: store, workflows: [AnyWorkflow(CalculatorAgent(model: second))]).run("traced")
        }
        #expect(done.status == .completed)
        let after = tracer.popFinishedSpans()
        let all = before + after

        // One trace for both executions.
        #expect(Set(all.map(\.traceID)).count == 1)
        let runs = spans(named: "workflow agent", in: all)
        #expect(runs.count == 2)
        #expect(runs.allSatisfy { $0.attributes["keel.run.id"]?.toSpanAttribute() == "traced" })
        let resumed = try #require(spans(named: "workflow agent", in: after).first)
        #expect(resumed.attributes["keel.replayed"]?.toSpanAttribute() == true)
        #expect(resumed.parentSpanID == spans(named: "workflow agent", in: before).first?.spanID)

        // Nesting: run → invoke_agent → step → chat / execute_tool.
        let byID = Dictionary(all.map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
        func parent(of span: FinishedInMemorySpan) -> FinishedInMemorySpan? { span.parentSpanID.flatMap { byID[$0] } }
        let chats = spans(named: "chat ", in: all)
        let tools = spans(named: "execute_tool ", in: all)
        // Three calls of the first model (the third failed) and one of the second: replayed steps
        // are not called again, so they have no chat span.
        #expect(chats.count == 4)
        #expect(tools.map(\.operationName).sorted() == ["execute_tool add", "execute_tool multiply"])
        for span in chats + tools {
            let step = try #require(parent(of: span))
            #expect(step.operationName.hasPrefix("step "), "\(span.operationName) under \(step.operationName)")
            let agent = try #require(parent(of: step))
            #expect(agent.operationName == "invoke_agent")
            #expect(parent(of: agent)?.operationName == "workflow agent")
        }
        #expect(tools.allSatisfy { $0.attributes["gen_ai.tool.name"]?.toSpanAttribute() == .string(String($0.operationName.dropFirst("execute_tool ".count))) })
        #expect(tools.allSatisfy { $0.attributes["keel.policy.decision"]?.toSpanAttribute() == "allowed" })

        // The GenAI attributes, and token counts equal to the journal's.
        let journal = try await store.journal(runID: "traced")
        let metered = journal.filter { $0.metering != nil && $0.scope.isEmpty }
        let succeeded = chats.filter { $0.status?.code != .error }
        #expect(succeeded.count == metered.count)
        for (chat, entry) in zip(succeeded, metered) {
            #expect(chat.attributes["gen_ai.operation.name"]?.toSpanAttribute() == "chat")
            #expect(chat.attributes["gen_ai.provider.name"]?.toSpanAttribute() == "scripted")
            #expect(chat.attributes["gen_ai.request.model"]?.toSpanAttribute() == "scripted")
            #expect(chat.attributes["gen_ai.request.max_tokens"]?.toSpanAttribute() == .int64(1_500))
            #expect(chat.attributes["gen_ai.usage.input_tokens"]?.toSpanAttribute() == .int64(Int64(entry.metering?.usage.inputTokens ?? -1)))
            #expect(chat.attributes["gen_ai.usage.output_tokens"]?.toSpanAttribute() == .int64(Int64(entry.metering?.usage.outputTokens ?? -1)))
            let step = try #require(parent(of: chat))
            #expect(step.operationName == "step \(entry.name)")
            #expect(step.attributes["keel.step.sequence"]?.toSpanAttribute() == .int64(Int64(entry.sequence)))
        }
        // The failed call is an error span with the model's error class.
        #expect(chats.filter { $0.status?.code == .error }.count == 1)
        // No content unless asked for.
        #expect(chats.allSatisfy { $0.attributes["gen_ai.input.messages"] == nil && $0.attributes["gen_ai.output.messages"] == nil })
    }

    @Test func contentIsRecordedOnlyWhenAskedFor() async throws {
        let tracer = InMemoryTracer()
        let model = ScriptedModel([.toolCall("add", arguments: ["a": 1, "b": 2]), .text("1 plus 2 is 3.")])
        let result = await TraceContent.recording(true) {
            await withTracer(tracer) {
                await Agent(model: model, instructions: "Use the tools.", tools: Calculator.tools).run("What is 1 plus 2?")
            }
        }
        #expect(result.answer == "1 plus 2 is 3.")
        let chats = tracer.finishedSpans.filter { $0.operationName.hasPrefix("chat ") }
        #expect(chats.count == 2)
        let input = try #require(chats.last?.attributes["gen_ai.input.messages"]?.toSpanAttribute())
        guard case .string(let text) = input else {
            Issue.record("gen_ai.input.messages is not a string: \(input)")
            return
        }
        let messages = try JSONValue(parsing: text)
        #expect(messages[0]?["role"] == "system")
        #expect(messages[1]?["parts"]?[0]?["content"] == "What is 1 plus 2?")
        #expect(messages[2]?["parts"]?[0]?["type"] == "tool_call")
        #expect(messages[3]?["parts"]?[0]?["response"] == "3")
        let output = try #require(chats.last?.attributes["gen_ai.output.messages"]?.toSpanAttribute())
        #expect(output == .string(#"[{"parts":[{"content":"1 plus 2 is 3.","type":"text"}],"role":"assistant"}]"#))
    }

    @Test func anUntracedRunKeepsNoTraceContext() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let model = ScriptedModel([.text("hi")])
        _ = try await DurableRuntime(store: store, workflows: [AnyWorkflow(CalculatorAgent(model: model))])
            .start(CalculatorAgent(model: model), input: "hello", runID: "plain")
        #expect(try await store.journal(runID: "plain").map(\.name) == ["model-1"])
    }
}
