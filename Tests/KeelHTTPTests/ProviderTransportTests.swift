import KeelApp
import KeelCore
import KeelHTTP
import Logging
import Testing

/// A provider that is not OpenAI, built on the shared transport alone: its own headers, its own
/// rate-limit header, over real HTTP on loopback (the local server answers on its chat route
/// whatever the test's responder says).
@Suite(.timeLimit(.minutes(2))) struct ProviderTransportTests {
    static let secret = "acme-secret-key-123"

    /// Acme states its pause in `x-acme-retry` (seconds) and nothing else.
    static let acme = ProviderDialect(rateLimit: { headers in
        guard let value = headers.first(where: { $0.0.lowercased() == "x-acme-retry" })?.1, let seconds = Int(value) else { return nil }
        var snapshot = RateLimitSnapshot()
        snapshot.retryAfter = .seconds(seconds)
        return snapshot
    })

    func transport(_ server: OpenAICompatibleServer, configure: (inout ProviderEndpoint) -> Void = { _ in }) -> ProviderTransport {
        var endpoint = ProviderEndpoint(baseURL: server.baseURL + "/", headers: [("x-acme-key", Self.secret)], secrets: [Self.secret])
        configure(&endpoint)
        return ProviderTransport(endpoint: endpoint, dialect: Self.acme, logger: Logger(label: "test"))
    }

    @Test func aProvidersHeadersGoOutAndItsErrorsComeBackClassifiedAndRedacted() async throws {
        let responder = OpenAICompatibleServer.Responder { _ in
            ServerReply(status: 429, headers: [("x-acme-retry", "7")], body: .json(["error": ["message": .string("slow down, \(Self.secret)"), "type": "rate_limit"]]))
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let transport = transport(server)
            let reply = try await transport.post("/chat/completions", body: ["prompt": "hi"])
            #expect(reply.status == 429 && !reply.isSuccess)
            let error = await #expect(throws: ModelError.self) { _ = try await transport.readJSON(reply) }
            #expect(error?.code == .rateLimited)
            #expect(error?.retryAfter == .seconds(7))
            #expect(error?.message == "slow down, <redacted>")
            let request = try #require(server.requests.first)
            #expect(request.uri == "/v1/chat/completions")
            #expect(request.headers.contains { $0.0.lowercased() == "x-acme-key" && $0.1 == Self.secret })
            #expect(request.json == ["prompt": "hi"])
        }
    }

    @Test func eventsArriveInBatchesUntilTheProviderSaysDone() async throws {
        let responder = OpenAICompatibleServer.Responder { _ in
            ServerReply(body: .events([#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#], done: true), streamPieceSize: 5)
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let transport = transport(server)
            var data: [String] = []
            try await transport.readEvents(try await transport.post("/chat/completions", body: ["stream": true])) { events in
                data += events.map(\.data)
                return data.last == "[DONE]"
            }
            #expect(data == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#, "[DONE]"])
        }
    }

    @Test func bodiesAndStreamsPastTheirCapsAreMalformedNotBuffered() async throws {
        let responder = OpenAICompatibleServer.Responder { request in
            request.json?["stream"] == true ? ServerReply(body: .endlessEvents) : ServerReply(body: .text(String(repeating: "x", count: 10_000), contentType: "text/plain"))
        }
        try await OpenAICompatibleServer.withServer(responder: responder) { server in
            let transport = transport(server) { endpoint in
                endpoint.maximumResponseBytes = 1_000
                endpoint.maximumStreamBytes = 4_096
            }
            let whole = await #expect(throws: ModelError.self) { _ = try await transport.readJSON(try await transport.post("/chat/completions", body: [:])) }
            #expect(whole?.code == .malformedResponse)
            #expect(whole?.message.contains("larger than 1000 bytes") == true)
            let stream = await #expect(throws: ModelError.self) {
                try await transport.readEvents(try await transport.post("/chat/completions", body: ["stream": true])) { _ in false }
            }
            #expect(stream?.code == .malformedResponse)
            #expect(stream?.message.contains("too large") == true)
        }
    }

    @Test func aServerThatNeverAnswersIsATimeoutThatMayBeBilled() async throws {
        try await OpenAICompatibleServer.withServer(responder: .init { _ in ServerReply(body: .hang) }) { server in
            let transport = transport(server) { $0.requestTimeout = .milliseconds(300) }
            let error = await #expect(throws: ModelError.self) { _ = try await transport.post("/chat/completions", body: [:]) }
            #expect(error?.code == .timeout)
            #expect(error?.billing == .unknown)
        }
    }

    @Test func anUnreachableServerIsAConnectionError() async throws {
        let transport = ProviderTransport(endpoint: ProviderEndpoint(baseURL: "http://127.0.0.1:1"), dialect: Self.acme, logger: Logger(label: "test"))
        let error = await #expect(throws: ModelError.self) { _ = try await transport.post("/chat/completions", body: [:]) }
        #expect(error?.code == .connection)
    }
}
