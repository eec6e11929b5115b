import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Synchronization
import Testing

struct CalculatorAgent: Workflow {
    let name = "agent"
    let model: any ChatModel
    /// Off, so that a scripted failure fails the run (and the test resumes it).
    var retry = RetryPolicy.none
    func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
        var controls = AgentControls()
        controls.retry = retry
        return try await Agent(model: model, tools: Calculator.tools, controls: controls).run(input, in: context)
    }
}

/// A tool that changes the world and records each idempotency key it was given.
struct Transfer: Tool {
    @Schema struct Arguments: Decodable, Sendable {
        /// Euros to move.
        var amount: Int
    }
    let name = "transfer"
    let description = "Moves money."
    let isSideEffecting = true
    let keys: Locked<[String]>
    func call(_ arguments: Arguments, context: ToolContext) async throws -> String {
        keys.withLock { $0.append(context.idempotencyKey) }
        return "moved \(arguments.amount)"
    }
}

@Suite(.timeLimit(.minutes(5))) struct DurableAgentTests {
    @Test func anAgentResumesMidLoopWithItsTranscriptUsageAndStepCount() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let firstModel = ScriptedModel([
            .toolCall("multiply", arguments: ["a": 12, "b": 7]),
            .toolCall("add", arguments: ["a": 84, "b": 5]),
            .error(ModelError(.server, message: "the provider fell over", statusCode: 500)),
        ])
        let crashed = try await DurableRuntime(store: store, workflows: [AnyWorkflow(CalculatorAgent(model: firstModel))])
            .start(CalculatorAgent(model: firstModel), input: "What is 12 times 7 plus 5?", runID: "agent-1")
        #expect(crashed.status == .failed)
        #expect(crashed.failure?.code == "server")
        #expect(try await store.journal(runID: "agent-1").map(\.name) == ["model-1", "tool-multiply-call_1", "model-2", "tool-add-call_2"])

        // A new process with a healthy provider resumes at the third model call.
        let secondModel = ScriptedModel([.text("89")])
        _ = try await store.reopen(runID: "agent-1")
        let done = try await DurableRuntime(store: store, workflows: [AnyWorkflow(CalculatorAgent(model: secondModel))]).run("agent-1")
        #expect(done.status == .completed)
        let result = try #require(try done.output?.decode(as: AgentRunResult.self))
        #expect(result.outcome == .completed(answer: "89"))
        #expect(result.steps.count == 3)
        #expect(result.transcript.messages.count == 6)  // user, call, result, call, result, answer
        #expect(result.usage == result.steps.reduce(Usage.zero) { $0 + $1.response.usage })
        #expect(secondModel.requests.count == 1)
        #expect(secondModel.requests[0].messages.count == 5)  // the whole transcript, rebuilt from the journal
        let metered = try await store.journal(runID: "agent-1").compactMap(\.metering)
        #expect(metered.count == 3)
        #expect(metered.allSatisfy { $0.model == "scripted:scripted" })
    }

    @Test func toolCallsOfOneReplyAreJournaledInCallOrder() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let model = ScriptedModel([
            .toolCalls((1...6).map { ToolCall(id: "c\($0)", name: "add", arguments: #"{"a":\#($0),"b":0}"#) }, text: nil),
            .text("done"),
        ])
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(CalculatorAgent(model: model))])
            .start(CalculatorAgent(model: model), input: "add", runID: "par")
        #expect(record.status == .completed)
        let journal = try await store.journal(runID: "par")
        #expect(journal.map(\.sequence) == Array(0..<8))
        #expect(journal[1...6].map(\.name) == (1...6).map { "tool-add-c\($0)" })
        #expect(journal[1...6].map { $0.result?["content"] } == (1...6).map { .string("\($0)") })
    }

    @Test func aSideEffectingToolGetsTheRunsIdempotencyKey() async throws {
        struct Mover: Workflow {
            let name = "mover"
            let model: any ChatModel
            let keys: Locked<[String]>
            func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
                try await Agent(model: model, tools: [Transfer(keys: keys)]).run(input, in: context)
            }
        }
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keys = Locked<[String]>([])
        let model = ScriptedModel([.toolCall("transfer", arguments: ["amount": 10]), .text("moved")])
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(Mover(model: model, keys: keys))])
            .start(Mover(model: model, keys: keys), input: "move 10", runID: "mv")
        #expect(record.status == .completed)
        #expect(keys.withLock { $0 } == ["mv:1"])
        let entry = try await store.journal(runID: "mv")[1]
        #expect(entry.isSideEffecting)
        #expect(entry.idempotencyKey == "mv:1")
    }
}
