import KeelApp
import KeelCore
import KeelRuntime
import KeelTesting
import Synchronization
import Testing

/// The runner with scripted models and real tools, no network.
@Suite(.timeLimit(.minutes(5))) struct AgentRunnerTests {
    @Test func completesACalculationWithToolCalls() async throws {
        let model = ScriptedModel([
            .toolCall("multiply", arguments: ["a": 12, "b": 7]),
            .toolCall("add", arguments: ["a": 84, "b": 5]),
            .text("89"),
        ])
        let result = await Agent(model: model, tools: Calculator.tools).run("What is 12 times 7 plus 5?")
        #expect(result.outcome == .completed(answer: "89"))
        #expect(result.steps.map { $0.toolResults.map(\.content) } == [["84"], ["89"], []])
        #expect(model.requests.count == 3)
        // The second request carries the first tool result back to the model.
        #expect(model.requests[1].messages.last == .tool(ToolResult(callID: "call_1", name: "multiply", content: "84")))
        #expect(result.usage == result.steps.reduce(Usage.zero) { $0 + $1.response.usage })
        #expect(result.usage.inputTokens > 0)
    }

    @Test func everyKindOfBadToolCallBecomesAResultTheModelSees() async throws {
        let model = ScriptedModel([
            .toolCalls([
                ToolCall(id: "u", name: "teleport", arguments: "{}"),
                ToolCall(id: "j", name: "add", arguments: "{a: 1"),
                ToolCall(id: "s", name: "add", arguments: #"{"a": "one", "b": 2}"#),
                ToolCall(id: "t", name: "divide", arguments: #"{"a": 1, "b": 0}"#),
            ], text: nil),
            .text("done"),
        ])
        let result = await Agent(model: model, tools: Calculator.tools).run("break things")
        #expect(result.outcome == .completed(answer: "done"))
        let results = result.steps[0].toolResults
        #expect(results.map(\.isError) == [true, true, true, true])
        #expect(results[0].content.hasPrefix("Error: there is no tool named 'teleport'. Available tools: add, divide, multiply, subtract."))
        #expect(results[1].content.hasPrefix("Error: the arguments are not valid JSON"))
        #expect(results[2].content == "Error: the arguments break the tool's schema: /a: expected number, got string.")
        #expect(results[3].content == "Error: division by zero")
        #expect(model.requests[1].messages.suffix(4).map(\.role) == ["tool", "tool", "tool", "tool"])
    }

    @Test func aToolThatOutlivesItsTimeoutIsReportedAsTimedOut() async throws {
        let clock = TestClock()
        let slow = AnyTool(definition: ToolDefinition(name: "slow", description: "Never finishes.", parameters: .object(properties: [], required: []))) { _, _ in
            try await clock.sleep(for: .seconds(3_600))
            return "too late"
        }
        var configuration = AgentConfiguration()
        configuration.toolTimeout = .seconds(5)
        let model = ScriptedModel([.toolCall("slow", arguments: [:]), .text("gave up")])
        let agent = Agent(model: model, tools: [slow], configuration: configuration, clock: clock)
        async let run = agent.run("wait")
        await clock.waitForSleepers(2)  // the tool and the timeout
        clock.advance(by: .seconds(5))
        let result = await run
        #expect(result.outcome == .completed(answer: "gave up"))
        #expect(result.steps[0].toolResults[0].content == "Error: the tool did not finish within 5s.")
        #expect(result.steps[0].toolResults[0].isError)
    }

    /// A tool that returns a megabyte: the model reads the first part and that it was cut; the
    /// transcript (and so the journal and the cache) never holds the rest.
    @Test func aHugeToolResultIsCutAndTheModelReadsThatItWas() async throws {
        let flood = AnyTool(definition: ToolDefinition(name: "flood", description: "Says a lot.", parameters: .object(properties: [], required: []))) { _, _ in
            String(repeating: "word ", count: 200_000)
        }
        var configuration = AgentConfiguration()
        configuration.maxToolResultCharacters = 1_000
        let model = ScriptedModel([.toolCall("flood", arguments: [:]), .text("done")])
        let result = await Agent(model: model, tools: [flood], configuration: configuration).run("go")
        let content = result.steps[0].toolResults[0].content
        #expect(content.count < 1_100)
        #expect(content.hasSuffix("[Keel cut this result at 1000 of 1000000 characters.]"))
        #expect(ToolExecutor.cut("short", at: 1_000) == "short")
        #expect(AgentConfiguration().maxToolResultCharacters == 50_000)
    }

    @Test func aToolThatOutlivesARealTimeoutIsCancelledAndReported() async throws {
        let cancelled = Mutex(false)
        let slow = AnyTool(definition: ToolDefinition(name: "slow", description: "Never finishes.", parameters: .object(properties: [], required: []))) { _, _ in
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.withLock { $0 = true }
                throw error
            }
            return "too late"
        }
        let quick = AnyTool(definition: ToolDefinition(name: "quick", description: "Answers at once.", parameters: .object(properties: [], required: []))) { _, _ in "fast" }
        var configuration = AgentConfiguration()
        configuration.toolTimeout = .milliseconds(100)
        let model = ScriptedModel([.toolCall("quick", arguments: [:]), .toolCall("slow", arguments: [:]), .text("gave up")])
        let start = ContinuousClock.now
        let result = await Agent(model: model, tools: [slow, quick], configuration: configuration).run("wait")
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(result.steps[0].toolResults[0].content == "fast")
        #expect(result.steps[1].toolResults[0].content == "Error: the tool did not finish within 0.1s.")
        #expect(cancelled.withLock { $0 })
    }

    @Test func parallelCallsRunConcurrentlyUpToTheCap() async throws {
        let gauge = Mutex((current: 0, peak: 0))
        let clock = TestClock()
        let probe = AnyTool(definition: ToolDefinition(name: "probe", description: "", parameters: .object(properties: [], required: []))) { _, context in
            gauge.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) }
            try await clock.sleep(for: .seconds(1))
            gauge.withLock { $0.current -= 1 }
            return context.callID
        }
        var configuration = AgentConfiguration()
        configuration.toolConcurrency = 3
        configuration.toolTimeout = .seconds(60)
        let calls = (1...7).map { ToolCall(id: "p\($0)", name: "probe", arguments: "{}") }
        let model = ScriptedModel([.toolCalls(calls, text: nil), .text("ok")])
        let agent = Agent(model: model, tools: [probe], configuration: configuration, clock: clock)
        async let run = agent.run("go")
        // Release the probes in waves of three, three and one; the 60-second timeouts are not due.
        for wave in [3, 3, 1] {
            await clock.waitForSleepers(wave, within: .seconds(1))
            clock.advance(by: .seconds(1))
        }
        let result = await run
        #expect(result.steps[0].toolResults.map(\.content) == calls.map(\.id))
        #expect(gauge.withLock { $0.peak } == 3)
    }

    @Test func theSameFailingCallThreeTimesEndsWithNoProgress() async throws {
        let model = ScriptedModel(Array(repeating: .toolCall("divide", arguments: ["a": 1, "b": 0]), count: 5))
        let result = await Agent(model: model, tools: Calculator.tools).run("divide by zero")
        #expect(result.outcome == .noProgress(tool: "divide", arguments: #"{"a":1,"b":0}"#, failures: 3))
        #expect(model.requests.count == 3)
        #expect(result.transcript.unansweredToolCalls.isEmpty)
    }

    @Test func theStepLimitStopsARunawayAgent() async throws {
        var configuration = AgentConfiguration()
        configuration.maxSteps = 4
        let model = ScriptedModel((1...10).map { .toolCall("add", arguments: ["a": .number(Double($0)), "b": 1]) })
        let result = await Agent(model: model, tools: Calculator.tools, configuration: configuration).run("count forever")
        #expect(result.outcome == .stepLimitReached(steps: 4))
        #expect(model.requests.count == 4)
        #expect(result.steps[3].toolResults.allSatisfy { $0.isError })
        #expect(result.transcript.unansweredToolCalls.isEmpty)
    }

    @Test func aModelErrorIsAnOutcomeNotAThrow() async throws {
        let model = ScriptedModel([
            .toolCall("add", arguments: ["a": 1, "b": 2]),
            .error(ModelError(.authentication, message: "Incorrect API key provided.", statusCode: 401)),
        ])
        let result = await Agent(model: model, tools: Calculator.tools).run("1+2")
        guard case .modelFailed(let failure) = result.outcome else {
            Issue.record("expected a model failure, got \(result.outcome)")
            return
        }
        #expect(failure.code == .authentication)
        #expect(failure.statusCode == 401)
        #expect(result.steps.count == 1)
        #expect(result.transcript.messages.count == 3)
    }

    @Test func testModelDerivesValidCallsFromTheSchemas() async throws {
        let result = await Agent(model: TestModel(), tools: Calculator.tools).run("anything")
        #expect(result.outcome.isCompleted)
        let results = result.steps[0].toolResults
        #expect(results.map(\.name) == ["add", "subtract", "multiply", "divide"])
        #expect(results.allSatisfy { !$0.isError })
        #expect(result.answer == "add: 2\nsubtract: 0\nmultiply: 1\ndivide: 1")
    }

    @Test func streamingReportsTextAsItArrives() async throws {
        let deltas = Mutex<[String]>([])
        var configuration = AgentConfiguration()
        configuration.streaming = true
        let result = await Agent(model: ScriptedModel([.text("streamed answer")]), configuration: configuration).run("hi") { event in
            if case .textDelta(let text) = event { deltas.withLock { $0.append(text) } }
        }
        #expect(result.answer == "streamed answer")
        #expect(deltas.withLock { $0.joined() } == "streamed answer")
    }
}
