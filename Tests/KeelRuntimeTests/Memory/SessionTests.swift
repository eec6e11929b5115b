import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(3)))
struct SessionTests {
    static let scope = MemoryScope(tenant: "acme", user: "ann", agent: "host")

    @Test(arguments: SessionStoreConformance.checks)
    func inMemorySessionStoreConforms(_ check: SessionStoreConformance.Check) async throws {
        try await check.run(InMemorySessionStore())
    }

    @Test(arguments: SessionStoreConformance.checks)
    func sqliteSessionStoreConforms(_ check: SessionStoreConformance.Check) async throws {
        try await check.run(try SQLiteRunStore(path: try TemporaryFolder.make("keel-sessions").appendingPathComponent("keel.db").path))
    }

    /// Answers every turn with a line that names it, and records each request.
    final class Echo: ChatModel, Sendable {
        let provider = "test"
        let name: String
        let requests = Mutex<[ChatRequest]>([])
        init(name: String) { self.name = name }
        func respond(to request: ChatRequest) async throws -> ChatResponse {
            requests.withLock { $0.append(request) }
            let last = request.messages.last?.text ?? ""
            let text = name == "summarizer" ? "The user counted turns up to \(last.count) characters of notes." : "Noted: \(last.prefix(40))"
            return ChatResponse(model: name, message: AssistantMessage(text: text), usage: Usage(inputTokens: 50, outputTokens: 10), finishReason: .stop)
        }
    }

    @Test func aLongConversationNeverSendsMoreThanItsWindowAndItsSummaryIsJournaledAndPriced() async throws {
        let path = try TemporaryFolder.make("keel-sessions").appendingPathComponent("keel.db").path
        let store = try SQLiteRunStore(path: path)
        let counter = try TokenEstimate.counter(forModel: "gpt-4o")
        let window = ConversationWindow(maxTokens: 300, counter: counter)
        let model = Echo(name: "chat")
        let summarizer = Echo(name: "summarizer")
        var controls = AgentControls()
        var spend = SpendControls()
        spend.prices = PriceTable(["summarizer": ModelPrice(inputPerMillion: 100, outputPerMillion: 200)])
        controls.spend = spend
        let agent = Agent(name: "host", model: model, instructions: "You keep notes.", controls: controls)
        let memory = SessionMemory(store: store, id: "notes", scope: Self.scope, window: window, summarizer: summarizer)
        let flow = SessionFlow(agent: agent, session: memory)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(flow)])
        for turn in 1...200 {
            let record = try await runtime.start(flow, input: "Turn \(turn): remember that item \(turn) costs \(turn * 3) euros.", runID: "turn-\(turn)")
            #expect(record.status == .completed)
        }
        // Every request stayed within the window (system messages aside).
        let requests = model.requests.withLock { $0 }
        #expect(requests.count == 200)
        let largest = requests.map { $0.messages.filter { if case .system = $0 { false } else { true } }.reduce(0) { $0 + window.tokens(of: $1) } }.max() ?? 0
        #expect(largest <= 300)
        // The session holds the window and a summary, not 200 turns; the summary is in the requests.
        let session = try #require(try await store.session("notes", in: Self.scope))
        #expect(session.version == 200)
        #expect(session.heldBy == nil)
        #expect(session.messages.count < 60)
        #expect(session.summary?.hasPrefix("The user counted turns") == true)
        #expect(requests.last?.messages.contains { $0.text?.hasPrefix(SessionMemory.summaryHeading) == true } == true)
        // Summaries are metered model steps of the runs that made them.
        let summarized = try await (1...200).asyncCompactMap { turn in
            try await store.journal(runID: "turn-\(turn)").first { $0.name == "session:summary" }
        }
        #expect(summarized.count == summarizer.requests.withLock { $0.count })
        #expect(summarized.count > 10)
        #expect(summarized.allSatisfy { ($0.metering?.costUSD ?? 0) > 0 })
    }

    @Test func aSecondRunOnAHeldSessionIsRefusedAndAResumedRunSavesItsTurnOnce() async throws {
        let path = try TemporaryFolder.make("keel-sessions").appendingPathComponent("keel.db").path
        let store = try SQLiteRunStore(path: path)
        // The first answer fails once: the run stops mid-turn, holding the session.
        let model = ScriptedModel(name: "m", [.error(ModelError(.invalidRequest, message: "down")), .text("Hello, Ann."), .text("Still here.")])
        var agent = Agent(name: "host", model: model)
        agent.controls.retry = RetryPolicy(maxAttempts: 1)
        let memory = SessionMemory(store: store, id: "chat", scope: Self.scope)
        let flow = SessionFlow(agent: agent, session: memory)
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(flow)])
        let failed = try await runtime.start(flow, input: "Hi, I am Ann.", runID: "first")
        #expect(failed.status == .failed)
        #expect(try await store.session("chat", in: Self.scope)?.heldBy == "first")
        let refused = try await runtime.start(flow, input: "Anyone there?", runID: "second")
        #expect(refused.status == .failed)
        #expect(refused.failure?.message.contains("in use by run first") == true)
        // Resumed, the first run answers from the same history and saves its turn once.
        _ = try await store.reopen(runID: "first")
        #expect(try await runtime.run("first").status == .completed)
        let session = try #require(try await store.session("chat", in: Self.scope))
        #expect(session.messages == [.user("Hi, I am Ann."), .assistant(AssistantMessage(text: "Hello, Ann."))])
        #expect(session.version == 1)
        // Now the second run goes on, and sees the first turn.
        _ = try await store.reopen(runID: "second")
        #expect(try await runtime.run("second").status == .completed)
        #expect(model.requests.last?.messages.count == 3)
        #expect(try await store.session("chat", in: Self.scope)?.version == 2)
    }
}

/// A durable workflow that continues a session with its input.
struct SessionFlow: Workflow {
    let agent: Agent
    let session: SessionMemory
    let name = "session-agent"
    func run(_ input: String, context: RunContext) async throws -> AgentRunResult {
        try await agent.run(input, session: session, in: context)
    }
}

extension ClosedRange where Bound == Int {
    func asyncCompactMap<T>(_ transform: (Int) async throws -> T?) async rethrows -> [T] {
        var results: [T] = []
        for value in self { if let result = try await transform(value) { results.append(result) } }
        return results
    }
}
