import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

@Suite(.timeLimit(.minutes(2)))
struct AgentMemoryTests {
    static let scope = MemoryScope(tenant: "acme", user: "ann", agent: "host")

    @Test func whatOneRunRemembersTheNextRecallsBeforeItsFirstModelCall() async throws {
        let path = try TemporaryFolder.make("keel-memory").appendingPathComponent("keel.db").path
        let store = try SQLiteRunStore(path: path)
        let memory = AgentMemory(index: store, embedder: HashingEmbedder(), scope: Self.scope, facts: store)
        let first = ScriptedModel(name: "m", [
            .toolCalls([
                ToolCall(id: "r1", name: "remember", arguments: #"{"text": "Ann prefers green tea, never coffee."}"#),
                ToolCall(id: "f1", name: "set_fact", arguments: #"{"key": "favourite_drink", "value": "green tea"}"#),
            ], text: nil),
            .text("Noted."),
        ])
        var agent = Agent(name: "host", model: first, tools: memory.tools)
        agent.memory = memory
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(AgentFlow(agent: agent))])
        let one = try await runtime.start(AgentFlow(agent: agent), input: "Ann likes green tea.", runID: "one")
        #expect(one.status == .completed)
        #expect(try await store.count(in: Self.scope) == 1)
        #expect(try await store.fact("favourite_drink", in: Self.scope)?.value == "green tea")
        // Nothing was recalled into the first run: memory was empty.
        #expect(!(first.requests.first?.messages.contains { $0.text?.hasPrefix(AgentMemory.recallHeading) == true } ?? true))

        let second = ScriptedModel(name: "m", [.text("Green tea.")])
        agent.model = second
        let two = try await DurableRuntime(store: store, workflows: [AnyWorkflow(AgentFlow(agent: agent))])
            .start(AgentFlow(agent: agent), input: "Which tea does Ann prefer?", runID: "two")
        #expect(two.status == .completed)
        let messages = try #require(second.requests.first?.messages)
        #expect(messages.count == 2)
        #expect(messages.first?.text == AgentMemory.recallHeading + "\n- Ann prefers green tea, never coffee.")
        // The recall is a journaled step, so a resumed run recalls the same.
        #expect(try await store.journal(runID: "two").first?.name == "recall")
        // Another user of the same tenant recalls nothing of Ann's.
        var other = agent
        other.memory?.scope = MemoryScope(tenant: "acme", user: "bob", agent: "host")
        let third = ScriptedModel(name: "m", [.text("I do not know.")])
        other.model = third
        _ = await other.run("Which tea does Ann prefer?")
        #expect(third.requests.first?.messages.count == 1)
    }

    @Test func aPolicyCanForbidForgetting() async throws {
        let index = InMemoryVectorIndex()
        let memory = AgentMemory(index: index, embedder: HashingEmbedder(), scope: Self.scope)
        try await index.add([MemoryRecord(id: "m1", scope: Self.scope, text: "Ann's birthday is in May.", vector: HashingEmbedder().vector("Ann's birthday is in May."))])
        var controls = AgentControls()
        controls.governance = ToolGovernance(policies: ["forget": ToolPolicy(permissions: [.write])], granted: [.read])
        let model = ScriptedModel(name: "m", [.toolCall("forget", arguments: ["id": "m1"], id: "x"), .text("I may not forget.")])
        let agent = Agent(name: "host", model: model, tools: memory.tools, controls: controls)
        let result = await agent.run("Forget Ann's birthday.")
        #expect(result.answer == "I may not forget.")
        let refusal = result.transcript.messages.compactMap { if case .tool(let result) = $0 { result } else { nil } }.first
        #expect(refusal?.isError == true)
        #expect(refusal?.content.contains("write permission") == true)
        #expect(try await index.count(in: Self.scope) == 1)
    }

    @Test func rememberRunAgainWithTheSameKeyKeepsOneMemory() async throws {
        let index = InMemoryVectorIndex()
        let memory = AgentMemory(index: index, embedder: HashingEmbedder(), scope: Self.scope)
        let remember = try #require(memory.tools.first { $0.name == "remember" })
        #expect(remember.isSideEffecting)
        let context = ToolContext(callID: "c", toolName: "remember", idempotencyKey: "run-1:4")
        _ = try await remember.call(arguments: #"{"text": "The door code changed."}"#, context: context)
        _ = try await remember.call(arguments: #"{"text": "The door code changed."}"#, context: context)
        #expect(try await index.count(in: Self.scope) == 1)
        let recall = try #require(memory.tools.first { $0.name == "recall" })
        let found = try await recall.call(arguments: #"{"query": "door code", "limit": 3}"#, context: ToolContext(callID: "d", toolName: "recall"))
        #expect(found.contains("The door code changed."))
        // A text past the tool's bound is refused before it is embedded.
        await #expect(throws: ToolCallError.self) {
            _ = try await remember.call(arguments: JSONValue.object(["text": .string(String(repeating: "x", count: 4_001))]).serialized(), context: context)
        }
    }
}
