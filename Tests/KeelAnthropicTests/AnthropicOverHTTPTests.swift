import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelHTTP
import KeelTesting
import Logging
import Testing

@testable import KeelAnthropic

/// `AnthropicChatModel` over real HTTP on loopback, against the local server answering in the
/// Messages API's format.
@Suite(.timeLimit(.minutes(2))) struct AnthropicOverHTTPTests {
    static let key = "sk-ant-test-0123456789"

    static func model(_ server: OpenAICompatibleServer) -> AnthropicChatModel {
        AnthropicChatModel(name: "claude-test", configuration: AnthropicConfiguration(baseURL: server.baseURL, apiKey: key))
    }

    static func anthropicError(status: Int, type: String, message: String, headers: [(String, String)] = []) -> ServerReply {
        ServerReply(status: status, headers: headers, body: .json(["type": "error", "error": ["type": .string(type), "message": .string(message)]]))
    }

    @Test func aReplyComesBackWithTheRequestSentAsTheAPIWantsIt() async throws {
        let reply = ServerReply(headers: [("anthropic-ratelimit-requests-remaining", "49")], body: .json(MessagesWireTests.toolReply))
        try await OpenAICompatibleServer.withServer(responder: .init { _ in reply }) { server in
            let response = try await Self.model(server).respond(to: ChatRequest(messages: [.system("Be brief."), .user("Oslo?")], maxOutputTokens: 64))
            #expect(response.message.toolCalls.first?.name == "get_weather")
            #expect(response.usage.cachedInputTokens == 3000)
            #expect(response.rateLimit?.remainingRequests == 49)
            let request = try #require(server.requests.first)
            #expect(request.uri == "/v1/messages")
            #expect(request.header("x-api-key") == Self.key)
            #expect(request.header("anthropic-version") == "2023-06-01")
            #expect(request.header("authorization") == nil)
            #expect(request.json?["system"]?[0]?["text"] == "Be brief.")
            #expect(request.json?["max_tokens"]?.intValue == 64)
        }
    }

    @Test func aStreamInSmallPiecesGivesItsDeltasAndTheWholeReply() async throws {
        let reply = ServerReply(body: .events(MessagesWireTests.streamed, done: false), streamPieceSize: 7)
        try await OpenAICompatibleServer.withServer(responder: .init { _ in reply }) { server in
            let deltas = Locked<[ChatStreamEvent]>([])
            let response = try await Self.model(server).stream(ChatRequest(messages: [.user("Berlin?")], maxOutputTokens: 64)) { event in
                deltas.withLock { $0.append(event) }
            }
            #expect(response.message.text == "Looking it up — ☀️")
            #expect(response.message.toolCalls.first?.arguments == #"{"city": "Berlin"}"#)
            #expect(response.usage.outputTokens == 89)
            #expect(deltas.withLock { $0.filter { if case .textDelta = $0 { true } else { false } }.count } == 2)
            #expect(server.requests.first?.json?["stream"] == true)
        }
    }

    @Test func aStreamCutBeforeMessageStopIsMalformedAndBilledWithWhatItSaid() async throws {
        let reply = ServerReply(body: .events(Array(MessagesWireTests.streamed.prefix(8)), done: false))
        try await OpenAICompatibleServer.withServer(responder: .init { _ in reply }) { server in
            do {
                _ = try await Self.model(server).stream(ChatRequest(messages: [.user("Berlin?")], maxOutputTokens: 64)) { _ in }
                Issue.record("a stream without message_stop was accepted")
            } catch let error as ModelError {
                #expect(error.code == .malformedResponse)
                #expect(error.billing == .usage(Usage(inputTokens: 125, cachedInputTokens: 100, outputTokens: 1)))
            }
        }
    }

    @Test(arguments: [
        (529, "overloaded_error", "Overloaded", ModelError.Code.overloaded),
        (500, "api_error", "Internal server error", .server),
        (401, "authentication_error", "invalid x-api-key", .authentication),
        (403, "permission_error", "Your API key does not have permission", .authentication),
        (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum", .contextLengthExceeded),
        (400, "invalid_request_error", "max_tokens: Field required", .invalidRequest),
    ])
    func errorsAreClassified(status: Int, type: String, message: String, expected: ModelError.Code) async throws {
        let reply = Self.anthropicError(status: status, type: type, message: message)
        try await OpenAICompatibleServer.withServer(responder: .init { _ in reply }) { server in
            do {
                _ = try await Self.model(server).respond(to: ChatRequest(messages: [.user("Hi")], maxOutputTokens: 8))
                Issue.record("HTTP \(status) was accepted")
            } catch let error as ModelError {
                #expect(error.code == expected)
                #expect(error.statusCode == status)
                #expect(error.providerCode == type)
            }
        }
    }

    @Test func a429CarriesRetryAfterAndTheRateLimitHeadersAndNeverTheKey() async throws {
        let reply = Self.anthropicError(
            status: 429, type: "rate_limit_error", message: "Number of request tokens has exceeded your rate limit (key \(Self.key)).",
            headers: [("retry-after", "7"), ("anthropic-ratelimit-tokens-remaining", "0"), ("anthropic-ratelimit-tokens-limit", "80000")])
        try await OpenAICompatibleServer.withServer(responder: .init { _ in reply }) { server in
            do {
                _ = try await Self.model(server).respond(to: ChatRequest(messages: [.user("Hi")], maxOutputTokens: 8))
                Issue.record("a 429 was accepted")
            } catch let error as ModelError {
                #expect(error.code == .rateLimited)
                #expect(error.retryAfter == .seconds(7))
                #expect(error.rateLimit?.tokenLimit == 80_000)
                #expect(!error.message.contains(Self.key))
                #expect(!String(describing: error).contains(Self.key))
            }
        }
    }

    @Test func anAgentRunsItsToolsThroughClaudeWithTheConversationCached() async throws {
        // A tool call first; once the transcript holds its result, the answer.
        let responder = OpenAICompatibleServer.Responder { request in
            let turns = request.json?["messages"]?.arrayValue?.count ?? 0
            if turns < 3 {
                return ServerReply(body: .json([
                    "id": "msg_a", "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": "tool_use",
                    "content": [
                        ["type": "thinking", "thinking": "Add them with the tool.", "signature": "U2lnbmVk"],
                        ["type": "tool_use", "id": "toolu_add", "name": "add", "input": ["a": 2, "b": 3]],
                    ],
                    "usage": ["input_tokens": 40, "output_tokens": 12],
                ]))
            }
            return ServerReply(body: .json([
                "id": "msg_b", "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": "end_turn",
                "content": [["type": "text", "text": "2 + 3 = 5."]],
                "usage": ["input_tokens": 5, "cache_read_input_tokens": 60, "output_tokens": 8],
            ]))
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let model = try ModelCatalog.standard.model(
                for: "anthropic:claude-test", baseURL: server.baseURL, environment: ["ANTHROPIC_API_KEY": Self.key])
            #expect(model.identifier == "anthropic:claude-test")
            let result = await Agent(model: model, instructions: "Use the tools.", tools: Calculator.tools).run("What is 2 + 3?")
            #expect(result.outcome == .completed(answer: "2 + 3 = 5."))
            #expect(result.usage == Usage(inputTokens: 105, cachedInputTokens: 60, outputTokens: 20))
            let second = try #require(server.requests.last?.json)
            let last = try #require(second["messages"]?.arrayValue?.last)
            #expect(last["role"] == "user")
            #expect(last["content"]?[0]?["type"] == "tool_result")
            #expect(last["content"]?[0]?["content"] == "5")
            #expect(last["content"]?[0]?["cache_control"] == ["type": "ephemeral"])
            #expect(second["tools"]?.arrayValue?.last?["cache_control"] == ["type": "ephemeral"])
            // The thinking of the turn with the tool call goes back with its signature, first.
            let assistant = try #require(second["messages"]?.arrayValue?[1]["content"]?.arrayValue)
            #expect(assistant[0] == ["type": "thinking", "thinking": "Add them with the tool.", "signature": "U2lnbmVk"])
            #expect(assistant[1]["type"] == "tool_use")
        }
    }

    @Test func aTypedAnswerComesThroughTheForcedOutputToolAndIsRepairedWhenItBreaksTheSchema() async throws {
        // The first answer through the tool breaks the schema; the second is valid.
        let responder = OpenAICompatibleServer.Responder { request in
            let turns = request.json?["messages"]?.arrayValue?.count ?? 0
            let input: JSONValue = turns < 3 ? ["city": "Oslo", "celsius": "cold"] : ["city": "Oslo", "celsius": -3]
            return ServerReply(body: .json([
                "id": .string("msg_\(turns)"), "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": "tool_use",
                "content": [["type": "tool_use", "id": .string("toolu_\(turns)"), "name": "Forecast", "input": input]],
                "usage": ["input_tokens": 30, "output_tokens": 9],
            ]))
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let output = await Agent(model: Self.model(server)).run("Weather in Oslo?", returning: Forecast.self)
            #expect(output.value == Forecast(city: "Oslo", celsius: -3))
            #expect(output.result.steps.count == 2)
            #expect(output.result.usage == Usage(inputTokens: 60, outputTokens: 18))
            let first = try #require(server.requests.first?.json)
            #expect(first["tool_choice"] == ["type": "tool", "name": "Forecast"])
            #expect(first["tools"]?[0]?["name"] == "Forecast")
            #expect(first["tools"]?[0]?["input_schema"] == Forecast.jsonSchema.jsonValue)
            // The broken answer went back as the assistant's text, and the problem as the user's.
            let second = try #require(server.requests.last?.json?["messages"]?.arrayValue)
            #expect(second.count == 3)
            #expect(second[1]["content"]?[0]?["type"] == "text")
            #expect(second[2]["content"]?[0]?["text"]?.stringValue?.contains("celsius") == true)
        }
    }

    @Test func theCountTokensEndpointCountsARequestWithoutItsReplyLimits() async throws {
        try await OpenAICompatibleServer.withServer(responder: .init { _ in .text("unused") }) { server in
            let request = ChatRequest(messages: [.system("Be brief."), .user("How many tokens is this?")], tools: Calculator.tools.map(\.definition), maxOutputTokens: 64)
            let count = try await Self.model(server).countInputTokens(request)
            #expect(count == request.estimatedInputTokens)  // how the local server counts
            let sent = try #require(server.requests.first)
            #expect(sent.uri == "/v1/messages/count_tokens")
            #expect(sent.json?["max_tokens"] == nil)
            #expect(sent.json?["tools"]?.arrayValue?.count == Calculator.tools.count)
            #expect(sent.json?["system"]?[0]?["text"] == "Be brief.")
        }
    }

    @Test func withCountingOnABudgetAdmitsWhatTheProviderCountsAndNotTheEstimate() async throws {
        let prompt = String(repeating: "Tally the ledger entries for the quarter. ", count: 40)
        let request = ChatRequest(messages: [.user(prompt)], maxOutputTokens: 100)
        let counted = request.estimatedInputTokens  // the local server's count
        let estimated = try SpendControls().worstCase(of: request, model: "anthropic:claude-test").spend.tokens
        #expect(estimated > counted + 100)  // Keel's estimate has its margins
        for counting in [true, false] {
            try await OpenAICompatibleServer.withServer(responder: .scripted([.text("Done.", usage: Usage(inputTokens: counted, outputTokens: 2))])) { server in
                var configuration = AnthropicConfiguration(baseURL: server.baseURL, apiKey: Self.key)
                configuration.countsTokens = counting
                var controls = AgentControls()
                controls.spend = SpendControls()
                controls.spend?.runBudget = Budget(maxTokens: counted + 100)
                var agentConfiguration = AgentConfiguration()
                agentConfiguration.maxOutputTokens = 100
                let result = await Agent(
                    model: AnthropicChatModel(name: "claude-test", configuration: configuration), configuration: agentConfiguration, controls: controls
                ).run(prompt)
                let counts = server.requests.filter { $0.uri.hasSuffix("/count_tokens") }.count
                if counting {
                    #expect(result.outcome == .completed(answer: "Done."))
                    #expect(counts == 1)
                } else {
                    #expect(result.outcome.kind == "budget_exceeded")
                    #expect(counts == 0)
                    #expect(server.chatRequests.isEmpty)
                }
            }
        }
    }

    @Test func aStreamNamesItsEventsAndChaosErrorsComeInTheAPIsFormat() async throws {
        let reply = ServerReply.chat(ChatResponse(message: AssistantMessage(text: "Hi."), usage: Usage(inputTokens: 5, outputTokens: 2)))
        try await OpenAICompatibleServer.withServer(responder: .init { _ in reply }) { server in
            let configuration = AnthropicConfiguration(baseURL: server.baseURL, apiKey: Self.key)
            let transport = ProviderTransport(endpoint: configuration.endpoint, dialect: .anthropic, logger: Logger(label: "keel.test"))
            let sent = try await transport.post("/messages", body: ["model": "claude-test", "max_tokens": 8, "stream": true, "messages": [["role": "user", "content": "Hi"]]])
            #expect(sent.status == 200)
            var events: [ServerSentEvent] = []
            try await transport.readEvents(sent) { batch in
                events += batch
                return false
            }
            #expect(events.count > 4)
            // Each event is named after the type of its data, as Anthropic's server names them.
            for event in events {
                let type = try JSONValue(parsing: event.data)["type"]?.stringValue
                #expect(event.event != nil && event.event == type, "\(event)")
            }
            #expect(events.first?.event == "message_start")
            #expect(events.last?.event == "message_stop")
        }
        var chaos = ChaosConfiguration()
        chaos.overloadRate = 1
        try await OpenAICompatibleServer.withServer(responder: .chaos(chaos, answeringWith: .init { _ in reply })) { server in
            do {
                _ = try await Self.model(server).respond(to: ChatRequest(messages: [.user("Hi")], maxOutputTokens: 8))
                Issue.record("an overloaded reply was accepted")
            } catch let error as ModelError {
                #expect(error.code == .overloaded)
                #expect(error.statusCode == 529)
                #expect(error.providerCode == "overloaded_error")
            }
        }
    }
}

/// A typed answer for the structured-output tests.
@Schema struct Forecast: Codable, Sendable, Equatable {
    var city: String
    var celsius: Int
}
