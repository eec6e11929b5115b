import Foundation
import KeelCore
import Testing

@testable import KeelAnthropic

/// The Messages API's wire format, checked against replies written from Anthropic's API reference.
@Suite(.timeLimit(.minutes(2))) struct MessagesWireTests {
    static let tool = ToolDefinition(
        name: "get_weather", description: "The weather in a city.",
        parameters: JSONSchema(jsonValue: ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]))

    /// A conversation with a system prompt, a tool call, two results and the user's next turn.
    static let conversation: [Message] = [
        .system("You are brief."), .user("Weather in Paris and Rome?"),
        .assistant(AssistantMessage(text: "Checking.", toolCalls: [
            ToolCall(id: "toolu_1", name: "get_weather", arguments: #"{"city":"Paris"}"#),
            ToolCall(id: "toolu_2", name: "get_weather", arguments: "not json"),
        ])),
        .tool(ToolResult(callID: "toolu_1", name: "get_weather", content: "18°C")),
        .tool(ToolResult(callID: "toolu_2", name: "get_weather", content: "bad arguments", isError: true)),
        .user("Thanks — and tomorrow?"),
    ]

    @Test func aRequestAlternatesTurnsAndMarksTheCachedPrefix() throws {
        var request = ChatRequest(messages: Self.conversation, tools: [Self.tool], maxOutputTokens: 300)
        request.toolChoice = .required
        request.parallelToolCalls = false
        request.temperature = 0.2
        request.stop = ["END"]
        let body = MessagesWire.requestBody(request, model: "claude-test", stream: true, caching: .automatic)

        #expect(body["model"] == "claude-test")
        #expect(body["max_tokens"]?.intValue == 300)
        #expect(body["stream"] == true)
        #expect(body["temperature"]?.doubleValue == 0.2)
        #expect(body["stop_sequences"] == ["END"])
        #expect(body["system"] == [["type": "text", "text": "You are brief.", "cache_control": ["type": "ephemeral"]]])
        #expect(body["tool_choice"] == ["type": "any", "disable_parallel_tool_use": true])
        #expect(body["tools"]?[0]?["input_schema"]?["required"] == ["city"])
        #expect(body["tools"]?[0]?["cache_control"] == ["type": "ephemeral"])

        let turns = try #require(body["messages"]?.arrayValue)
        #expect(turns.map { $0["role"]?.stringValue } == ["user", "assistant", "user"])
        let assistant = try #require(turns[1]["content"]?.arrayValue)
        #expect(assistant[0] == ["type": "text", "text": "Checking."])
        #expect(assistant[1] == ["type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": ["city": "Paris"]])
        // Arguments that are not an object are kept as text, not dropped.
        #expect(assistant[2]["input"] == ["arguments": "not json"])
        // Both results and the user's next words share one user turn; the last block is marked.
        let last = try #require(turns[2]["content"]?.arrayValue)
        #expect(last.count == 3)
        #expect(last[0] == ["type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"])
        #expect(last[1]["is_error"] == true)
        #expect(last[2] == ["type": "text", "text": "Thanks — and tomorrow?", "cache_control": ["type": "ephemeral"]])
    }

    @Test func withCachingOffNoBlockIsMarked() {
        let request = ChatRequest(messages: Self.conversation, tools: [Self.tool], maxOutputTokens: 300)
        let body = MessagesWire.requestBody(request, model: "claude-test", stream: false, caching: .off)
        #expect(!body.serialized().contains("cache_control"))
        #expect(body["stream"] == nil)
        #expect(body["tool_choice"] == ["type": "auto"])
    }

    @Test func thinkingGoesBackAsItCameAndItsBudgetIsOnTopOfTheReplysLimit() throws {
        let reply = AssistantMessage(
            text: nil, toolCalls: [ToolCall(id: "toolu_1", name: "get_weather", arguments: #"{"city":"Oslo"}"#)],
            thinking: [ThinkingBlock(text: "Oslo first.", signature: "c2ln"), ThinkingBlock(text: "", redactedData: "ZW5j")])
        var request = ChatRequest(
            messages: [.user("Oslo?"), .assistant(reply), .tool(ToolResult(callID: "toolu_1", name: "get_weather", content: "2°C"))],
            tools: [Self.tool], maxOutputTokens: 300)
        request.temperature = 0.3
        let body = MessagesWire.requestBody(request, model: "claude-test", stream: false, caching: .off, thinkingBudget: 2_000)
        #expect(body["thinking"] == ["type": "enabled", "budget_tokens": 2_000])
        #expect(body["max_tokens"]?.intValue == 2_300)
        #expect(body["temperature"] == nil)
        let assistant = try #require(body["messages"]?[1]?["content"]?.arrayValue)
        #expect(assistant[0] == ["type": "thinking", "thinking": "Oslo first.", "signature": "c2ln"])
        #expect(assistant[1] == ["type": "redacted_thinking", "data": "ZW5j"])
        #expect(assistant[2]["type"] == "tool_use")
        // The server side reads them back.
        let parsed = try MessagesWire.parseRequest(body)
        #expect(parsed.messages[1] == .assistant(reply))
    }

    @Test func aReplyWithThinkingSurvivesTheJournalAndOldRepliesReadAsBefore() throws {
        let reply = AssistantMessage(text: "Hi", thinking: [ThinkingBlock(text: "Greet.", signature: "s1")])
        let encoded = try JSONEncoder().encode(reply)
        #expect(try JSONDecoder().decode(AssistantMessage.self, from: encoded) == reply)
        let message = Message.assistant(reply)
        #expect(try JSONDecoder().decode(Message.self, from: try JSONEncoder().encode(message)) == message)
        let old = Data(#"{"text":"Hi","toolCalls":[]}"#.utf8)
        #expect(try JSONDecoder().decode(AssistantMessage.self, from: old) == AssistantMessage(text: "Hi"))
        #expect(!String(decoding: try JSONEncoder().encode(AssistantMessage(text: "Hi")), as: UTF8.self).contains("thinking"))
    }

    @Test func toolChoicesMapOntoTheAPIs() {
        #expect(MessagesWire.toolChoice(.auto, parallel: nil) == ["type": "auto"])
        #expect(MessagesWire.toolChoice(.none, parallel: false) == ["type": "none"])
        #expect(MessagesWire.toolChoice(.tool("get_weather"), parallel: true) == ["type": "tool", "name": "get_weather"])
    }

    @Test func structuredOutputIsAToolThatIsForcedAloneAndRequiredBesideOthers() throws {
        let schema = JSONSchema.object(properties: [("city", .string())], required: ["city"])
        let weather = ToolDefinition(name: "get_weather", description: "Weather.", parameters: schema)
        var request = ChatRequest(messages: [.user("Oslo?")], responseFormat: .jsonSchema(name: "Answer", schema: schema, strict: true))
        let alone = MessagesWire.requestBody(request, model: "claude-test", stream: false, caching: .off)
        #expect(alone["tool_choice"] == ["type": "tool", "name": "Answer"])
        #expect(alone["tools"]?.arrayValue?.map { $0["name"] } == ["Answer"])
        request.tools = [weather]
        let beside = MessagesWire.requestBody(request, model: "claude-test", stream: false, caching: .off)
        #expect(beside["tool_choice"] == ["type": "any"])
        #expect(beside["tools"]?.arrayValue?.map { $0["name"] } == ["get_weather", "Answer"])
        // Extended thinking allows no forced tool: the model is only offered it.
        let thinking = MessagesWire.requestBody(request, model: "claude-test", stream: false, caching: .off, thinkingBudget: 2_000)
        #expect(thinking["tool_choice"] == ["type": "auto"])

        // A call of the output tool is the answer; other calls stay calls.
        let answer = ToolCall(id: "toolu_1", name: "Answer", arguments: #"{"city":"Oslo"}"#)
        let other = ToolCall(id: "toolu_2", name: "get_weather", arguments: #"{"city":"Bergen"}"#)
        let reply = ChatResponse(message: AssistantMessage(text: "Here it is.", toolCalls: [answer]), finishReason: .toolCalls)
        let answered = MessagesWire.answeringThroughOutputTool(reply, request: request)
        #expect(answered.message.text == #"{"city":"Oslo"}"#)
        #expect(answered.message.toolCalls.isEmpty)
        #expect(answered.finishReason == .stop)
        let mixed = MessagesWire.answeringThroughOutputTool(
            ChatResponse(message: AssistantMessage(toolCalls: [other, answer]), finishReason: .toolCalls), request: request)
        #expect(mixed.message.toolCalls == [other])
        #expect(mixed.finishReason == .toolCalls)
    }

    /// A reply with text and a tool call, its input read from and written to the cache.
    static let toolReply: JSONValue = [
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [
            ["type": "thinking", "thinking": "The user wants weather.", "signature": "sig"],
            ["type": "text", "text": "Let me check."],
            ["type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": ["city": "Oslo"]],
        ],
        "stop_reason": "tool_use", "stop_sequence": nil,
        "usage": ["input_tokens": 10, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000, "output_tokens": 50],
    ]

    @Test func aReplyBecomesTextToolCallsAndUsageWithCacheReads() throws {
        let response = try MessagesWire.parseResponse(Self.toolReply, rateLimit: nil)
        #expect(response.id == "msg_01")
        #expect(response.message.text == "Let me check.")
        #expect(response.message.thinking == [ThinkingBlock(text: "The user wants weather.", signature: "sig")])
        #expect(response.message.toolCalls.map(\.id) == ["toolu_9"])
        #expect(try JSONValue(parsing: response.message.toolCalls[0].arguments) == ["city": "Oslo"])
        #expect(response.finishReason == .toolCalls)
        #expect(response.usage == Usage(inputTokens: 3210, cachedInputTokens: 3000, outputTokens: 50, cacheWriteInputTokens: 200))
    }

    @Test(arguments: [("end_turn", FinishReason.stop), ("max_tokens", .length), ("stop_sequence", .stop), ("refusal", .contentFilter)])
    func stopReasonsMapOntoFinishReasons(value: String, expected: FinishReason) {
        #expect(MessagesWire.finishReason(value, calls: []) == expected)
    }

    @Test func anErrorInASuccessfulReplyIsClassified() {
        let body: JSONValue = ["type": "error", "error": ["type": "overloaded_error", "message": "Overloaded"]]
        #expect(throws: ModelError.self) { try MessagesWire.parseResponse(body, rateLimit: nil) }
        do {
            _ = try MessagesWire.parseResponse(body, rateLimit: nil)
        } catch {
            #expect(error.code == .overloaded)
        }
    }

    @Test func implausibleUsageIsAMalformedReply() {
        var fields = Self.toolReply.objectValue ?? [:]
        fields["usage"] = ["input_tokens": -3, "output_tokens": 1]
        let body = JSONValue.object(fields)
        do {
            _ = try MessagesWire.parseResponse(body, rateLimit: nil)
            Issue.record("a negative token count was accepted")
        } catch {
            #expect(error.code == .malformedResponse)
        }
    }

    /// A streamed reply with every event type: text, a tool call whose input arrives in pieces,
    /// thinking, pings, and usage at the start and the end.
    static let streamed: [String] = [
        #"{"type":"message_start","message":{"id":"msg_7","type":"message","role":"assistant","content":[],"model":"claude-test","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_read_input_tokens":100,"cache_creation_input_tokens":0,"output_tokens":1}}}"#,
        #"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
        #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Weather, then."}}"#,
        #"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
        #"{"type":"content_block_stop","index":0}"#,
        #"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        #"{"type": "ping"}"#,
        #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Looking "}}"#,
        #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"it up — ☀️"}}"#,
        #"{"type":"content_block_stop","index":1}"#,
        #"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_3","name":"get_weather","input":{}}}"#,
        #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Ber"}}"#,
        #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"lin\"}"}}"#,
        #"{"type":"content_block_stop","index":2}"#,
        #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
        #"{"type":"message_stop"}"#,
    ]

    /// The events as a server writes them, with `event:` lines.
    static var streamText: String {
        streamed.map { payload in
            let type = (try? JSONValue(parsing: payload))?["type"]?.stringValue ?? "message"
            return "event: \(type)\ndata: \(payload)\n\n"
        }.joined()
    }

    static func read(_ bytes: [UInt8], splitAt split: Int?) throws -> (ChatResponse, [ChatStreamEvent]) {
        var parser = ServerSentEventParser()
        var stream = MessagesStream()
        var deltas: [ChatStreamEvent] = []
        let pieces = split.map { [Array(bytes[..<$0]), Array(bytes[$0...])] } ?? [bytes]
        for piece in pieces {
            for event in try parser.feed(piece) { deltas += try stream.apply(try JSONValue(parsing: event.data), rateLimit: nil) }
        }
        for event in try parser.finish() { deltas += try stream.apply(try JSONValue(parsing: event.data), rateLimit: nil) }
        #expect(stream.isComplete)
        return (try stream.response(rateLimit: nil), deltas)
    }

    @Test func aStreamSplitAtEveryByteGivesTheSameReply() throws {
        let bytes = Array(Self.streamText.utf8)
        let (whole, deltas) = try Self.read(bytes, splitAt: nil)
        #expect(whole.message.text == "Looking it up — ☀️")
        #expect(whole.message.thinking == [ThinkingBlock(text: "Weather, then.", signature: "EqQB")])
        #expect(whole.message.toolCalls == [ToolCall(id: "toolu_3", name: "get_weather", arguments: #"{"city": "Berlin"}"#)])
        #expect(whole.finishReason == .toolCalls)
        #expect(whole.usage == Usage(inputTokens: 125, cachedInputTokens: 100, outputTokens: 89))
        #expect(deltas.first == .textDelta("Looking "))
        #expect(deltas.contains(.toolCallDelta(index: 0, id: "toolu_3", name: "get_weather", argumentsDelta: "")))
        for split in 1..<bytes.count {
            let (reply, splitDeltas) = try Self.read(bytes, splitAt: split)
            #expect(reply == whole, "split at byte \(split)")
            #expect(splitDeltas == deltas, "split at byte \(split)")
        }
    }

    @Test func anErrorEventEndsTheStreamWithItsClass() {
        var stream = MessagesStream()
        let event: JSONValue = ["type": "error", "error": ["type": "rate_limit_error", "message": "Slow down"]]
        do {
            _ = try stream.apply(event, rateLimit: nil)
            Issue.record("an error event was accepted")
        } catch {
            #expect(error.message == "Slow down")
        }
    }

    @Test func inputForABlockThatIsNoToolIsMalformed() {
        var stream = MessagesStream()
        let event: JSONValue = ["type": "content_block_delta", "index": 4, "delta": ["type": "input_json_delta", "partial_json": "{"]]
        do {
            _ = try stream.apply(event, rateLimit: nil)
            Issue.record("orphaned tool input was accepted")
        } catch {
            #expect(error.code == .malformedResponse)
        }
    }

    @Test func rateLimitHeadersAreReadWithTheirResetTimes() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let snapshot = AnthropicRateLimitHeaders.parse([
            ("anthropic-ratelimit-requests-limit", "50"), ("Anthropic-RateLimit-Requests-Remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2027-01-15T08:00:20Z"), ("anthropic-ratelimit-tokens-remaining", "-4"),
            ("anthropic-ratelimit-tokens-reset", "not a time"), ("retry-after", "20"), ("content-type", "application/json"),
        ], now: now)
        #expect(snapshot?.requestLimit == 50)
        #expect(snapshot?.remainingRequests == 0)
        #expect(snapshot?.requestsReset == .seconds(20))
        #expect(snapshot?.remainingTokens == 0)
        #expect(snapshot?.tokensReset == nil)
        #expect(snapshot?.retryAfter == .seconds(20))
        #expect(AnthropicRateLimitHeaders.parse([("content-type", "application/json")]) == nil)
    }
}
