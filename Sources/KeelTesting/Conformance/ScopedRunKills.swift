import Foundation
import KeelCore
import KeelRuntime

/// A run with parallel branches — two agents side by side, then a fan-out of N agents inside a
/// scope — killed again and again until it completes, to show that scoped steps replay
/// deterministically on a store: each branch's model calls are made once (plus at most one per
/// kill that cut one short), and the result is the one an unbroken run gives.
///
/// ```swift
/// let report = try await ScopedRunKills.run(on: store, kills: 20)
/// #expect(report.kills >= 20)
/// #expect(report.extraCallsWithinBound)
/// ```
public enum ScopedRunKills {
    /// A model that answers each branch by its transcript alone, so that branches running in any
    /// order get the same replies: first a call to `note` with the branch's name, then, once it
    /// has the note's result, the answer. It counts its calls by branch.
    public final class BranchModel: ChatModel {
        public let provider = "test"
        public let name = "branches"
        private let calls = Locked<[String: Int]>([:])

        public init() {}

        /// Model calls made so far, by branch.
        public var callsByBranch: [String: Int] { calls.withLock { $0 } }

        public func respond(to request: ChatRequest) async throws -> ChatResponse {
            let prompt = request.messages.compactMap { message -> String? in
                if case .user(let text) = message { return text }
                return nil
            }.first ?? ""
            let branch = String(prompt.prefix { $0 != ":" })
            calls.withLock { $0[branch, default: 0] += 1 }
            // A little time in the call, so that kills land while calls are in flight.
            try await Task.sleep(for: .milliseconds(1))
            let noted = request.messages.contains { if case .tool = $0 { return true } else { return false } }
            let usage = Usage(inputTokens: 10, outputTokens: 5)
            guard noted else {
                let call = ToolCall(id: "note-\(branch)", name: "note", arguments: JSONValue.object(["text": .string(branch)]).serialized())
                return ChatResponse(model: name, message: AssistantMessage(toolCalls: [call]), usage: usage, finishReason: .toolCalls)
            }
            return ChatResponse(model: name, message: AssistantMessage(text: "\(branch) done"), usage: usage, finishReason: .stop)
        }
    }

    /// The tool the branches call: it hands its text back.
    public struct Note: Tool {
        @Schema public struct Arguments: Decodable, Sendable {
            /// What to note.
            public var text: String
        }
        public let name = "note"
        public let description = "Notes a line."
        public init() {}
        public func call(_ arguments: Arguments, context: ToolContext) async throws -> String { "noted \(arguments.text)" }
    }

    /// Two agents in parallel, then `fanOut` agents in the scope `research`, then a merge step.
    public struct TeamWorkflow: Workflow {
        public let name = "team"
        public let model: BranchModel
        public let fanOut: Int

        public init(model: BranchModel, fanOut: Int) {
            self.model = model
            self.fanOut = fanOut
        }

        public func run(_ input: String, context: RunContext) async throws -> [String] {
            let topic = try await context.step("topic") { input }
            let pair = try await agents(["writer", "critic"], in: context, topic: topic)
            let found = try await agents((0..<fanOut).map { "agent-\($0)" }, in: try context.scope("research"), topic: topic)
            return try await context.step("merge") { pair + found }
        }

        /// Runs one agent per branch, in parallel, each in its scope of `context`.
        private func agents(_ branches: [String], in context: RunContext, topic: String) async throws -> [String] {
            let agent = Agent(model: model, tools: [Note()])
            return try await context.branches(branches) { branch, scope in
                try await agent.run("\(branch.replacingOccurrences(of: "agent", with: "item")): \(topic)", in: scope).answer ?? ""
            }
        }
    }

    /// What a run under kills came to.
    public struct Report: Sendable {
        /// How many times the run was killed.
        public var kills: Int
        /// The run's final output.
        public var output: [String]
        /// Model calls by branch, over every attempt.
        public var callsByBranch: [String: Int]
        /// The run's journal at the end.
        public var journal: [JournalEntry]

        /// The output an unbroken run gives.
        public static func expectedOutput(fanOut: Int) -> [String] {
            ["writer done", "critic done"] + (0..<fanOut).map { "item-\($0) done" }
        }

        /// Whether every branch made its two model calls, plus at most one per kill.
        public var extraCallsWithinBound: Bool {
            callsByBranch.values.allSatisfy { $0 >= 2 && $0 <= 2 + kills }
        }
    }

    /// Runs the team workflow as run `runID` on `store`, killing it `kills` times at random
    /// writes (some dying before the write reaches the store, some after), then lets it finish.
    public static func run(
        on store: any RunStore, runID: String = "team", fanOut: Int = 12, kills: Int = 20, seed: UInt64 = 42
    ) async throws -> Report {
        let model = BranchModel()
        let workflow = TeamWorkflow(model: model, fanOut: fanOut)
        var random = SeededRandomGenerator(seed: seed)
        _ = try await store.createRun(NewRun(id: runID, workflow: workflow.name, input: "tides"))
        var killed = 0
        while killed < kills {
            let dying = CrashingRunStore(store, writesBeforeCrash: Int.random(in: 1...3, using: &random), crashAfterWrite: Bool.random(using: &random))
            let runtime = DurableRuntime(store: dying, workflows: [AnyWorkflow(workflow)], owner: CrashingRunStore.deadOwner("kill-\(killed)"))
            let record = try? await runtime.run(runID)
            if dying.hasCrashed {
                killed += 1
            } else if record?.status.isFinished == true {
                break  // finished before the crash point came
            }
        }
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).run(runID)
        guard record.status == .completed, let output = try record.output?.decode(as: [String].self) else {
            throw RunStoreConformance.Failure(description: "the team run ended \(record.status): \(record.failure.map(String.init(describing:)) ?? "no failure")")
        }
        return Report(kills: killed, output: output, callsByBranch: model.callsByBranch, journal: try await store.journal(runID: runID))
    }
}
