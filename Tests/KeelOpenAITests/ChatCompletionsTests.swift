import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting
import Testing

/// The provider against a real HTTP server on 127.0.0.1.
@Suite(.timeLimit(.minutes(5))) struct ChatCompletionsTests {
    let weather = ToolDefinition(
        name: "weather", description: "Weather for a city.",
        parameters: .object(properties: [("city", .string())], required: ["city"]))

    @Test func sendsEverythingTheRequestSays() async throws {
        try await withLocalModel(.scripted([.text("ok")])) { model, server in
            let schema = JSONSchema.object(properties: [("answer", .string())], required: ["answer"])
            let request = ChatRequest(
                messages: [
                    .system("Be brief."), .user("Weather?"),
                    .assistant(AssistantMessage(toolCalls: [ToolCall(id: "c1", name: "weather", arguments: #"{"city":"Lisbon"}"#)])),
                    .tool(ToolResult(callID: "c1", name: "weather", content: "sunny")),
                ],
                tools: [weather], toolChoice: .tool("weather"), parallelToolCalls: false, maxOutputTokens: 321, temperature: 0.3,
                responseFormat: .jsonSchema(name: "reply", schema: schema, strict: true), stop: ["END"])
            _ = try await model.respond(to: request)
            let sent = try #require(server.requests.first)
            #expect(sent.uri == "/v1/chat/completions")
            #expect(sent.header("authorization") == "Bearer sk-test-key")
            let body = try #require(sent.json)
            #expect(body["model"] == "gpt-test")
            #expect(body["max_tokens"] == 321)  // a compatible server gets max_tokens
            #expect(body["temperature"] == 0.3)
            #expect(body["parallel_tool_calls"] == false)
            #expect(body["tool_choice"] == ["type": "function", "function": ["name": "weather"]])
            #expect(body["tools"]?[0]?["function"]?["parameters"] == weather.parameters.jsonValue)
            #expect(body["response_format"]?["json_schema"]?["schema"] == schema.jsonValue)
            #expect(body["response_format"]?["json_schema"]?["strict"] == true)
            #expect(body["stop"] == ["END"])
            #expect(body["stream"] == nil)
            #expect(body["messages"] == [
                ["role": "system", "content": "Be brief."],
                ["role": "user", "content": "Weather?"],
                ["role": "assistant", "content": nil, "tool_calls": [["id": "c1", "type": "function", "function": ["name": "weather", "arguments": #"{"city":"Lisbon"}"#]]]],
                ["role": "tool", "tool_call_id": "c1", "content": "sunny"],
            ])
        }
    }

    @Test func openAIItselfGetsMaxCompletionTokens() {
        #expect(OpenAIConfiguration().effectiveMaxTokensParameter == .maxCompletionTokens)
        #expect(OpenAIConfiguration(baseURL: "http://127.0.0.1:1/v1").effectiveMaxTokensParameter == .maxTokens)
    }

    @Test func readsToolCallsUsageAndRateLimitHeaders() async throws {
        let reply = ServerReply(
            headers: [("x-ratelimit-remaining-requests", "59"), ("x-ratelimit-remaining-tokens", "149000"), ("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0s")],
            body: .chat(ChatResponse(
                message: AssistantMessage(toolCalls: [ToolCall(id: "call_9", name: "weather", arguments: #"{"city":"Porto"}"#)]),
                usage: Usage(inputTokens: 120, cachedInputTokens: 100, outputTokens: 30, reasoningTokens: 12), finishReason: .toolCalls)))
        try await withLocalModel(.scripted([reply])) { model, _ in
            let response = try await model.respond(to: ChatRequest(messages: [.user("Weather in Porto?")], tools: [weather]))
            #expect(response.message.toolCalls == [ToolCall(id: "call_9", name: "weather", arguments: #"{"city":"Porto"}"#)])
            #expect(response.usage == Usage(inputTokens: 120, cachedInputTokens: 100, outputTokens: 30, reasoningTokens: 12))
            #expect(response.finishReason == .toolCalls)
            #expect(response.rateLimit?.remainingRequests == 59)
            #expect(response.rateLimit?.remainingTokens == 149_000)
            #expect(response.rateLimit?.requestsReset == .seconds(1))
            #expect(response.rateLimit?.tokensReset == .seconds(360))
        }
    }

    @Test func aRateLimitCarriesItsRetryAfter() async throws {
        try await withLocalModel(.scripted([.rateLimited(retryAfter: 7, headers: [("x-ratelimit-remaining-requests", "0")])])) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
            #expect(error?.code == .rateLimited)
            #expect(error?.statusCode == 429)
            #expect(error?.retryAfter == .seconds(7))
            #expect(error?.rateLimit?.remainingRequests == 0)
            #expect(error?.isTransient == true)
            #expect(error?.providerCode == "rate_limit_exceeded")
        }
    }

    @Test(arguments: [
        (500, "server_error", nil, ModelError.Code.server),
        (502, "server_error", nil, .server),
        (503, "overloaded", nil, .overloaded),
        (529, "overloaded_error", nil, .overloaded),
        (504, "timeout", nil, .timeout),
        (401, "invalid_request_error", "invalid_api_key", .authentication),
        (403, "permission_error", nil, .authentication),
        (400, "invalid_request_error", "context_length_exceeded", .contextLengthExceeded),
        (400, "invalid_request_error", nil, .invalidRequest),
        (404, "invalid_request_error", "model_not_found", .invalidRequest),
    ] as [(Int, String, String?, ModelError.Code)])
    func statusesMapOntoErrorClasses(status: Int, type: String, code: String?, expected: ModelError.Code) async throws {
        try await withLocalModel(.scripted([.error(status: status, message: "The server says no.", type: type, code: code)])) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
            #expect(error?.code == expected)
            #expect(error?.statusCode == status)
            #expect(error?.message == "The server says no.")
        }
    }

    @Test func aBodyThatIsNotJSONIsAMalformedResponse() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .text("<html>gateway</html>", contentType: "text/html"))])) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message.hasPrefix("The response body is not JSON") == true)
        }
    }

    @Test func anErrorStatusWithAnHTMLBodyKeepsTheStatusClass() async throws {
        try await withLocalModel(.scripted([ServerReply(status: 502, body: .text("<html>Bad Gateway</html>", contentType: "text/html"))])) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
            #expect(error?.code == .server)
            #expect(error?.message == "<html>Bad Gateway</html>")
        }
    }

    @Test func aResponseWithoutChoicesIsMalformed() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .json(["id": "x", "choices": []]))])) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
            #expect(error?.code == .malformedResponse)
        }
    }

    @Test func anUnreachableServerFailsFastAsAConnectionError() async throws {
        let model = OpenAIChatModel(name: "x", configuration: OpenAIConfiguration(baseURL: "http://127.0.0.1:1/v1"))
        let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
        #expect(error?.code == .connection)
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .hang)]), configure: { $0.requestTimeout = .milliseconds(300) }) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("hi")])) }
            #expect(error?.code == .timeout)
        }
    }

    @Test func embeddingsComeBackInInputOrder() async throws {
        try await OpenAICompatibleServer.withServer(responder: .scripted([])) { server in
            let embedder = OpenAIEmbeddingModel(name: "embed-test", configuration: OpenAIConfiguration(baseURL: server.baseURL))
            let result = try await embedder.embed(["alpha", "beta", "alpha"])
            #expect(result.vectors.count == 3)
            #expect(result.vectors[0] == result.vectors[2])
            #expect(result.vectors[0] != result.vectors[1])
            #expect(result.vectors[0].count == 8)
            #expect(result.usage.inputTokens > 0)
            #expect(server.requests.first?.json?["input"] == ["alpha", "beta", "alpha"])
        }
    }
}
