import KeelApp
import KeelCore
import KeelOpenAI
import KeelTestSupport
import KeelTesting
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(5)), .heavy) struct StreamingTests {
    let reply = ChatResponse(
        message: AssistantMessage(text: "Streaming is fun — ünïcødé 🧪 included.", toolCalls: [
            ToolCall(id: "call_a", name: "lookup", arguments: #"{"query":"keel","limit":3}"#),
            ToolCall(id: "call_b", name: "lookup", arguments: #"{"query":"swift"}"#),
        ]),
        usage: Usage(inputTokens: 42, cachedInputTokens: 8, outputTokens: 17, reasoningTokens: 4), finishReason: .toolCalls)

    @Test(arguments: [nil, 1, 2, 3, 5, 7, 13, 64] as [Int?])
    func assemblesTheSameReplyWhereverTheBytesAreSplit(pieceSize: Int?) async throws {
        try await withLocalModel(.scripted([ServerReply(body: .chat(reply), streamPieceSize: pieceSize)])) { model, server in
            let deltas = Mutex<[ChatStreamEvent]>([])
            let response = try await model.stream(ChatRequest(messages: [.user("go")])) { event in
                deltas.withLock { $0.append(event) }
            }
            #expect(response.message == reply.message)
            #expect(response.usage == reply.usage)
            #expect(response.finishReason == .toolCalls)
            let text = deltas.withLock { events in
                events.compactMap { if case .textDelta(let text) = $0 { text } else { nil } }.joined()
            }
            #expect(text == reply.message.text)
            let body = try #require(server.requests.first?.json)
            #expect(body["stream"] == true)
            #expect(body["stream_options"] == ["include_usage": true])
        }
    }

    @Test func usageInStreamedResponsesIsNeverSilentlyZero() async throws {
        try await withLocalModel(.model(TestModel())) { model, _ in
            let response = try await model.stream(ChatRequest(messages: [.user("How long is this prompt?")])) { _ in }
            let direct = try await TestModel().respond(to: ChatRequest(messages: [.user("How long is this prompt?")], maxOutputTokens: 1_500))
            #expect(response.usage.inputTokens > 0)
            #expect(response.usage == direct.usage)
        }
    }

    @Test func aStreamCutShortIsAnError() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .truncatedStream(reply, chunks: 3))])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .connection || error?.code == .malformedResponse)
        }
    }

    /// The cut comes while a PostgreSQL cluster starts: its processes are spawned while both ends
    /// of the connection are open in this process. Had they inherited the server's end, closing it
    /// here would send no FIN and the client would wait for its idle timeout.
    @Test(.needsPostgreSQL) func aStreamCutShortWhileAClusterStartsIsAnError() async throws {
        let cluster = Mutex<PostgresTestCluster?>(nil)
        let responder = OpenAICompatibleServer.Responder { [reply] _ in
            let started = try? await PostgresTestCluster.start(fsync: false)
            cluster.withLock { $0 = started }
            return ServerReply(body: .truncatedStream(reply, chunks: 3))
        }
        try await withLocalModel(responder, configure: { $0.idleTimeout = .seconds(30) }) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .connection || error?.code == .malformedResponse, "\(String(describing: error))")
        }
        let started = try #require(cluster.withLock { $0 }, "the cluster did not start")
        try await started.stopServer()
    }

    @Test func aStreamThatStallsFailsAfterTheIdleTimeout() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .stalledStream(reply, chunks: 2))]), configure: { $0.idleTimeout = .milliseconds(300) }) { model, _ in
            let started = ContinuousClock.now
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .timeout)
            #expect(error?.message.contains("sent nothing for") == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }

    @Test func aStreamThatTricklesFailsAtTheRequestTimeout() async throws {
        let events = (0..<200).map { _ in #"{"id":"x","choices":[{"index":0,"delta":{"content":"."},"finish_reason":null}]}"# }
        let trickle = ServerReply(body: .events(events, done: true), pieceInterval: .milliseconds(100))
        try await withLocalModel(.scripted([trickle]), configure: { $0.requestTimeout = .seconds(5); $0.idleTimeout = .seconds(60) }) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            // Twenty seconds of events, each 0.1 s after the last: only the whole-request limit can end it.
            #expect(error?.code == .timeout)
            #expect(error?.message.contains("No complete answer") == true, "\(String(describing: error))")
        }
    }

    @Test func aBodyThatStallsFailsAfterTheIdleTimeout() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .stalledStream(reply, chunks: 1))]), configure: { $0.idleTimeout = .milliseconds(300) }) { model, _ in
            // Not asked to stream, the client still reads the (event-stream) body under the limits.
            let error = await expectModelError { _ = try await model.respond(to: ChatRequest(messages: [.user("go")])) }
            #expect(error?.code == .timeout)
        }
    }

    @Test func aStreamThatEndsWithoutFinishingIsMalformed() async throws {
        let partial = [#"{"id":"x","choices":[{"index":0,"delta":{"content":"half"},"finish_reason":null}]}"#]
        try await withLocalModel(.scripted([ServerReply(body: .events(partial, done: false))])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message == "The stream ended before the reply was complete.")
        }
    }

    @Test func aChunkThatIsNotJSONIsMalformed() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .events(["{not json"], done: true))])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .malformedResponse)
        }
    }

    @Test func anErrorEventMidStreamIsClassified() async throws {
        let events = [
            #"{"id":"x","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#,
            #"{"error":{"message":"Overloaded","type":"server_error","code":"overloaded_error"}}"#,
        ]
        try await withLocalModel(.scripted([ServerReply(body: .events(events, done: false))])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .overloaded)
        }
    }

    @Test func aRateLimitBeforeTheStreamStartsIsClassified() async throws {
        try await withLocalModel(.scripted([.rateLimited(retryAfter: 2)])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(ChatRequest(messages: [.user("go")])) { _ in } }
            #expect(error?.code == .rateLimited)
            #expect(error?.retryAfter == .seconds(2))
        }
    }
}
