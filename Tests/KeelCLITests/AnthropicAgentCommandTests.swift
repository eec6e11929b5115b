import Foundation
import KeelApp
import KeelCore
import KeelTestSupport
import Testing

/// `keel agent --model anthropic:…` against the local server speaking Anthropic's Messages API.
@Suite(.timeLimit(.minutes(5))) struct AnthropicAgentCommandTests {
    static let environment = ["ANTHROPIC_API_KEY": "sk-ant-cli-test-key"]

    @Test func anAgentWithToolsAnswersThroughTheMessagesAPI() async throws {
        let script: [ServerReply] = [
            .toolCalls([ToolCall(id: "toolu_1", name: "add", arguments: #"{"a":1,"b":2}"#)], usage: Usage(inputTokens: 57, outputTokens: 11)),
            .text("1 plus 2 is 3.", usage: Usage(inputTokens: 81, cachedInputTokens: 32, outputTokens: 7)),
        ]
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let output = try await KeelProcess.run(
                ["agent", "--model", "anthropic:claude-sonnet-4-5", "--base-url", server.baseURL, "--tools", "calculator", "What is 1 plus 2?"],
                environment: Self.environment)
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stdout == "1 plus 2 is 3.\n")
            let requests = server.chatRequests
            #expect(requests.map(\.uri) == ["/v1/messages", "/v1/messages"])
            #expect(requests.allSatisfy { $0.header("x-api-key") == "sk-ant-cli-test-key" })
            let turns = try #require(requests.last?.json?["messages"]?.arrayValue)
            #expect(turns.map { $0["role"]?.stringValue } == ["user", "assistant", "user"])
            #expect(turns[1]["content"]?[0] == ["type": "tool_use", "id": "toolu_1", "name": "add", "input": ["a": 1, "b": 2]])
            #expect(turns[2]["content"]?[0]?["type"] == "tool_result")
            #expect(turns[2]["content"]?[0]?["content"] == "3")
        }
    }

    /// Nine tool calls and an answer; from the second call on, the server reports the earlier
    /// prefix as read from its cache.
    static let tenSteps: [ServerReply] = (1...10).map { step in
        let usage = Self.usage(ofStep: step)
        return step == 10
            ? .text("The sum is 54.", usage: usage)
            : .toolCalls([ToolCall(id: "toolu_\(step)", name: "add", arguments: #"{"a":\#(step),"b":1}"#)], usage: usage)
    }

    /// Step N reads the prefix of step N − 1 from the cache and writes what is new to it.
    static func usage(ofStep step: Int) -> Usage {
        Usage(
            inputTokens: 2_000 + 150 * step, cachedInputTokens: step == 1 ? 0 : 2_000 + 150 * (step - 1), outputTokens: 20,
            cacheWriteInputTokens: step == 1 ? 2_150 : 150)
    }

    @Test func aTenStepRunMarksItsPrefixForTheCacheAndPaysCacheReadPrices() async throws {
        let work = try TemporaryFolder.make("keel-anthropic-cache")
        try await OpenAICompatibleServer.withServer(responder: .scripted(Self.tenSteps)) { server in
            let run = try await KeelProcess.run(
                ["agent", "--db", "keel.db", "--run-id", "cached", "--model", "anthropic:claude-sonnet-4-5", "--base-url", server.baseURL,
                 "--tools", "calculator", "--instructions", "Add the numbers one call at a time.", "Add them up."],
                environment: Self.environment, killAfter: nil, directory: work)
            #expect(run.status == 0, "\(run.stderr)")
            let requests = server.chatRequests
            #expect(requests.count == 10)
            for (index, request) in requests.enumerated() {
                let json = try #require(request.json)
                let lastTurn = try #require(json["messages"]?.arrayValue?.last?["content"]?.arrayValue)
                #expect(lastTurn.last?["cache_control"] == ["type": "ephemeral"], "request \(index + 1)")
                #expect(lastTurn.dropLast().allSatisfy { $0["cache_control"] == nil }, "request \(index + 1)")
                #expect(json["system"]?[0]?["cache_control"] == ["type": "ephemeral"], "request \(index + 1)")
                #expect(json["tools"]?.arrayValue?.last?["cache_control"] == ["type": "ephemeral"], "request \(index + 1)")
            }
            let shown = try await KeelProcess.run(["runs", "show", "cached", "--json", "--db", "keel.db"], killAfter: nil, directory: work)
            #expect(shown.status == 0, "\(shown.stderr)")
            let report = try JSONValue(parsing: shown.stdout)
            let price = try #require(PriceTable.defaults.price(for: "anthropic:claude-sonnet-4-5"))
            let usages = (1...10).map(Self.usage(ofStep:))
            let expected = usages.reduce(0) { $0 + price.cost(of: $1) }
            let uncached = usages.reduce(0) { $0 + ModelPrice(inputPerMillion: price.inputPerMillion, outputPerMillion: price.outputPerMillion).cost(of: $1) }
            let cost = try #require(report["cost_usd"]?.doubleValue)
            #expect(abs(cost - expected) < 1e-9)
            // Nine of the ten requests read most of their input at a tenth of the price (and write
            // what is new at 1.25 times it).
            #expect(cost < uncached * 0.3)
            #expect(report["usage"]?["cached_input_tokens"]?.intValue == usages.reduce(0) { $0 + $1.cachedInputTokens })
            // The cache writes are kept and priced above the input price.
            #expect(report["usage"]?["cache_write_input_tokens"]?.intValue == 3_500)
            #expect(price.cacheWriteInputPerMillion == price.inputPerMillion * 1.25)
        }
    }
}

/// `--fallback` across providers, through the real `keel` process.
@Suite(.timeLimit(.minutes(5))) struct CrossProviderFallbackTests {
    @Test func anOverloadedOpenAIServerFallsBackToClaudeAndEachCallIsPricedByItsServer() async throws {
        let work = try TemporaryFolder.make("keel-fallback")
        let overloaded = OpenAICompatibleServer.Responder { _ in .error(status: 503, message: "The engine is currently overloaded.", type: "overloaded_error") }
        let script: [ServerReply] = [
            .toolCalls([ToolCall(id: "toolu_1", name: "add", arguments: #"{"a":1,"b":2}"#)], usage: Usage(inputTokens: 500, outputTokens: 20)),
            .text("1 plus 2 is 3.", usage: Usage(inputTokens: 600, cachedInputTokens: 500, outputTokens: 10)),
        ]
        try await OpenAICompatibleServer.withServer(responder: overloaded) { openAI in
            try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { claude in
                let run = try await KeelProcess.run(
                    ["agent", "--db", "keel.db", "--run-id", "fb", "--model", "openai:gpt-4o-mini", "--base-url", openAI.baseURL,
                     "--fallback", "anthropic:claude-sonnet-4-5", "--tools", "calculator", "What is 1 plus 2?"],
                    environment: ["ANTHROPIC_API_KEY": "sk-ant-fallback-key", "ANTHROPIC_BASE_URL": claude.baseURL], killAfter: nil, directory: work)
                #expect(run.status == 0, "\(run.stderr)")
                #expect(run.stdout == "1 plus 2 is 3.\n")
                // Each call went to the OpenAI server first, then to Claude.
                #expect(openAI.chatRequests.count >= 2)
                #expect(claude.chatRequests.map(\.uri) == ["/v1/messages", "/v1/messages"])
                let costs = try await KeelProcess.run(["costs", "--by", "model", "--json", "--db", "keel.db"], killAfter: nil, directory: work)
                let rows = try JSONValue(parsing: costs.stdout)
                #expect(rows.arrayValue?.count == 1)
                #expect(rows[0]?["key"] == "anthropic:claude-sonnet-4-5")
                let price = try #require(PriceTable.defaults.price(for: "claude-sonnet-4-5"))
                let expected = price.cost(of: script.usage(0)) + price.cost(of: script.usage(1))
                #expect(abs((rows[0]?["cost_usd"]?.doubleValue ?? 0) - expected) < 1e-12)
            }
        }
    }
}

extension [ServerReply] {
    /// The usage of reply `index` of a script of chat replies.
    fileprivate func usage(_ index: Int) -> Usage {
        if case .chat(let response) = self[index].body { return response.usage }
        return .zero
    }
}
