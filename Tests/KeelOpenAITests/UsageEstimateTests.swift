import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting
import Testing

/// A reply that carries no usage is never counted as free: its tokens are estimated with the
/// model's tokenizer, marked as estimated, and the budgets settle on them.
@Suite(.timeLimit(.minutes(2))) struct UsageEstimateTests {
    @Test func aStreamWithoutItsUsageChunkIsEstimatedWithTheModelsTokenizerAndSettledOnTheBudget() async throws {
        let replies: [ServerReply] = [
            .toolCalls([ToolCall(id: "c1", name: "add", arguments: #"{"a": 1, "b": 2}"#)], usage: Usage(inputTokens: 100, outputTokens: 20)),
            .text("1 plus 2 is 3, as the tool said.", usage: Usage(inputTokens: 130, outputTokens: 9)),
        ]
        // The configuration does not ask for the usage chunk, so the server sends none.
        try await withLocalModel(.scripted(replies), configure: { $0.includeUsageInStreams = false }) { model, server in
            let ledger = InMemorySpendLedger()
            var controls = AgentControls()
            var spend = SpendControls()
            spend.tenant = "acme"
            spend.tenantDailyBudget = Budget(maxTokens: 1_000_000)
            spend.ledger = ledger
            controls.spend = spend
            var configuration = AgentConfiguration()
            configuration.streaming = true
            let result = await Agent(model: model, tools: Calculator.tools, configuration: configuration, controls: controls).run("1+2?")
            #expect(result.answer == "1 plus 2 is 3, as the tool said.")
            #expect(server.chatRequests.allSatisfy { $0.json?["stream_options"] == nil })

            // Each step's usage is the tokenizer's count of its request and reply, marked.
            let cl100k = try BPETokenizer.cl100kBase()  // "gpt-test" is no OpenAI model name: cl100k_base
            let requests = try server.chatRequests.map { try ChatCompletionsWire.parseRequest(#require($0.json)).request }
            #expect(requests.count == 2)
            for (step, request) in zip(result.steps, requests) {
                let expected = Usage.estimate(of: request, reply: step.response.message, countedWith: cl100k.count)
                #expect(step.response.usage == expected)
                #expect(step.response.usage.isEstimated)
                #expect(step.response.usage.inputTokens > 20)
                #expect(step.response.usage.outputTokens > 5)
            }
            #expect(result.usage.isEstimated)
            // The tenant's budget was charged the estimate, not nothing.
            let charged = try await ledger.spent(in: .tenant("acme", on: Date()))
            #expect(charged.tokens == result.usage.totalTokens)
        }
    }

    @Test func aReplyThatReportsUsageIsNotEstimated() async throws {
        try await withLocalModel(.scripted([.text("hi", usage: Usage(inputTokens: 12, outputTokens: 1))])) { model, _ in
            let result = await Agent(model: model).run("hello")
            #expect(result.usage == Usage(inputTokens: 12, outputTokens: 1))
            #expect(!result.usage.isEstimated)
        }
    }

    @Test func estimatedUsageSurvivesTheJournalAndOldUsageReadsAsBefore() throws {
        let usage = Usage(inputTokens: 40, outputTokens: 7, cacheWriteInputTokens: 30, isEstimated: true)
        #expect(try JSONValue(encoding: usage).decode(as: Usage.self) == usage)
        let old: JSONValue = ["inputTokens": 40, "cachedInputTokens": 0, "outputTokens": 7, "reasoningTokens": 0]
        #expect(try old.decode(as: Usage.self) == Usage(inputTokens: 40, outputTokens: 7))
        // What was written before these fields is written the same.
        #expect(try JSONValue(encoding: Usage(inputTokens: 40, outputTokens: 7)) == old)
    }
}
