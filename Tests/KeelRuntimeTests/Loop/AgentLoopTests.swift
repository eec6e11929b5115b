import KeelCore
import Testing

@testable import KeelRuntime

/// The loop with no I/O at all: events in, actions out.
@Suite(.timeLimit(.minutes(5))) struct AgentLoopTests {
    let tools = [ToolDefinition(name: "add", description: "Add.", parameters: .object(properties: [("a", .number()), ("b", .number())], required: ["a", "b"]))]

    func reply(_ text: String?, calls: [ToolCall] = [], usage: Usage = Usage(inputTokens: 10, outputTokens: 2)) -> ChatResponse {
        ChatResponse(message: AssistantMessage(text: text, toolCalls: calls), usage: usage, finishReason: calls.isEmpty ? .stop : .toolCalls)
    }

    func call(_ id: String, _ arguments: String = #"{"a":1,"b":2}"#, name: String = "add") -> ToolCall {
        ToolCall(id: id, name: name, arguments: arguments)
    }

    @Test func startsWithAModelCallCarryingTheLimits() throws {
        var configuration = AgentConfiguration()
        configuration.maxOutputTokens = 500
        configuration.temperature = 0.2
        configuration.parallelToolCalls = false
        var loop = AgentLoop(instructions: "Be brief.", prompt: "1+2?", tools: tools, configuration: configuration)
        guard case .callModel(let request) = loop.start() else {
            Issue.record("expected a model call")
            return
        }
        #expect(request.messages == [.system("Be brief."), .user("1+2?")])
        #expect(request.tools == tools)
        #expect(request.maxOutputTokens == 500)
        #expect(request.temperature == 0.2)
        #expect(request.parallelToolCalls == false)
    }

    @Test func defaultsToTwentyStepsAndFifteenHundredTokens() {
        let configuration = AgentConfiguration()
        #expect(configuration.maxSteps == 20)
        #expect(configuration.maxOutputTokens == 1_500)
    }

    @Test func runsToolsThenAnswers() {
        var loop = AgentLoop(instructions: nil, prompt: "1+2?", tools: tools)
        _ = loop.start()
        let action = loop.handle(.modelResponded(reply(nil, calls: [call("c1"), call("c2", #"{"a":2,"b":2}"#)]), latency: nil))
        #expect(action == .runTools([call("c1"), call("c2", #"{"a":2,"b":2}"#)]))
        let next = loop.handle(.toolsFinished([
            ToolResult(callID: "c2", name: "add", content: "4"), ToolResult(callID: "c1", name: "add", content: "3"),
        ]))
        guard case .callModel(let request) = next else {
            Issue.record("expected a model call")
            return
        }
        // Results are in call order whatever order they finished in.
        #expect(request.messages.suffix(2) == [.tool(ToolResult(callID: "c1", name: "add", content: "3")), .tool(ToolResult(callID: "c2", name: "add", content: "4"))])
        #expect(loop.handle(.modelResponded(reply("3 and 4"), latency: nil)) == .finish(.completed(answer: "3 and 4")))
        #expect(loop.steps.count == 2)
        #expect(loop.steps[0].toolResults.map(\.content) == ["3", "4"])
        #expect(loop.usage == Usage(inputTokens: 20, outputTokens: 4))
        #expect(loop.transcript.unansweredToolCalls.isEmpty)
    }

    @Test func answersToolCallsAsNotRunAtTheStepLimit() {
        var configuration = AgentConfiguration()
        configuration.maxSteps = 2
        var loop = AgentLoop(instructions: nil, prompt: "loop", tools: tools, configuration: configuration)
        _ = loop.start()
        _ = loop.handle(.modelResponded(reply(nil, calls: [call("c1")]), latency: nil))
        _ = loop.handle(.toolsFinished([ToolResult(callID: "c1", name: "add", content: "3")]))
        let action = loop.handle(.modelResponded(reply(nil, calls: [call("c2")]), latency: nil))
        #expect(action == .finish(.stepLimitReached(steps: 2)))
        #expect(loop.transcript.unansweredToolCalls.isEmpty)
        guard case .tool(let result) = loop.transcript.messages.last else {
            Issue.record("expected a tool result last")
            return
        }
        #expect(result.isError)
        #expect(result.content.contains("limit of 2 steps"))
    }

    @Test func stopsWhenTheSameCallFailsThreeTimesInARow() {
        var loop = AgentLoop(instructions: nil, prompt: "divide", tools: tools)
        _ = loop.start()
        var action = AgentLoop.Action.finish(.completed(answer: ""))
        for attempt in 1...3 {
            // The same arguments with keys in another order still count as the same call.
            let arguments = attempt == 2 ? #"{"b": 0, "a": 1}"# : #"{"a":1,"b":0}"#
            _ = loop.handle(.modelResponded(reply(nil, calls: [call("c\(attempt)", arguments)]), latency: nil))
            action = loop.handle(.toolsFinished([ToolResult(callID: "c\(attempt)", name: "add", content: "Error: boom", isError: true)]))
        }
        #expect(action == .finish(.noProgress(tool: "add", arguments: #"{"a":1,"b":0}"#, failures: 3)))
        #expect(loop.transcript.unansweredToolCalls.isEmpty)
    }

    @Test func aSuccessOrADifferentCallResetsTheFailureCount() {
        var loop = AgentLoop(instructions: nil, prompt: "x", tools: tools)
        _ = loop.start()
        let outcomes: [(String, Bool)] = [(#"{"a":1}"#, true), (#"{"a":1}"#, true), (#"{"a":2}"#, true), (#"{"a":1}"#, true), (#"{"a":1}"#, false), (#"{"a":1}"#, true)]
        for (index, (arguments, failed)) in outcomes.enumerated() {
            _ = loop.handle(.modelResponded(reply(nil, calls: [call("c\(index)", arguments)]), latency: nil))
            let action = loop.handle(.toolsFinished([ToolResult(callID: "c\(index)", name: "add", content: "r", isError: failed)]))
            guard case .callModel = action else {
                Issue.record("stopped early at \(index): \(action)")
                return
            }
        }
    }

    @Test func aMissingToolResultIsFilledInAsNotRun() {
        var loop = AgentLoop(instructions: nil, prompt: "x", tools: tools)
        _ = loop.start()
        _ = loop.handle(.modelResponded(reply(nil, calls: [call("c1"), call("c2")]), latency: nil))
        _ = loop.handle(.toolsFinished([ToolResult(callID: "c1", name: "add", content: "3"), ToolResult(callID: "zzz", name: "add", content: "?")]))
        #expect(loop.transcript.unansweredToolCalls.isEmpty)
        #expect(loop.steps[0].toolResults.map(\.callID) == ["c1", "c2"])
        #expect(loop.steps[0].toolResults[1].isError)
    }

    @Test func aModelFailureEndsTheRunKeepingTranscriptAndUsage() {
        var loop = AgentLoop(instructions: nil, prompt: "x", tools: tools)
        _ = loop.start()
        _ = loop.handle(.modelResponded(reply(nil, calls: [call("c1")]), latency: nil))
        _ = loop.handle(.toolsFinished([ToolResult(callID: "c1", name: "add", content: "3")]))
        let failure = ModelFailure(ModelError(.authentication, message: "bad key", statusCode: 401))
        #expect(loop.handle(.modelFailed(failure)) == .finish(.modelFailed(failure)))
        let result = loop.result(outcome: .modelFailed(failure))
        #expect(result.transcript.messages.count == 3)
        #expect(result.usage.inputTokens == 10)
    }

    @Test func anEventThatAnswersNothingReturnsThePendingAction() {
        var loop = AgentLoop(instructions: nil, prompt: "x", tools: tools)
        let first = loop.start()
        #expect(loop.handle(.toolsFinished([])) == first)
    }

    @Test func zeroStepsStopsBeforeAnyCall() {
        var configuration = AgentConfiguration()
        configuration.maxSteps = 0
        var loop = AgentLoop(instructions: nil, prompt: "x", tools: tools, configuration: configuration)
        #expect(loop.start() == .finish(.stepLimitReached(steps: 0)))
    }
}
