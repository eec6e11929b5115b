import Foundation
import KeelAnthropic
import KeelCore
import KeelOpenAI
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An OpenAI-compatible HTTP server on 127.0.0.1 for tests, demos and chaos runs: it records every
/// request and answers with a ``Responder`` — a scripted list of replies, any ``ChatModel`` (such as
/// ``TestModel``) spoken over HTTP, or your own function.
///
/// ```swift
/// try await OpenAICompatibleServer.withServer(responder: .scripted([.text("Hello")])) { server in
///     let model = OpenAIChatModel(name: "any", configuration: OpenAIConfiguration(baseURL: server.baseURL))
///     let reply = try await model.respond(to: ChatRequest(messages: [.user("Hi")]))
///     #expect(server.requests.count == 1)
/// }
/// ```
///
/// Routes: `POST /v1/chat/completions`, `POST /v1/messages` (Anthropic's Messages API: the same
/// responders, their chat replies written in its format, streams with named events),
/// `POST /v1/messages/count_tokens` (the offline models' count), `POST /v1/embeddings` (deterministic
/// vectors), `GET /v1/models`; anything else is a 404 in OpenAI's error format.
public final class OpenAICompatibleServer: Sendable {
    /// Answers one request.
    public struct Responder: Sendable {
        let respond: @Sendable (RecordedRequest) async -> ServerReply

        /// A responder from a function.
        public init(_ respond: @escaping @Sendable (RecordedRequest) async -> ServerReply) {
            self.respond = respond
        }

        /// A responder given each request's number — 1 for the first to arrive — with the request.
        public static func numbered(_ respond: @escaping @Sendable (_ number: Int, RecordedRequest) async -> ServerReply) -> Responder {
            let count = Mutex(0)
            return Responder { request in
                let number = count.withLock { count -> Int in
                    count += 1
                    return count
                }
                return await respond(number, request)
            }
        }
    }

    /// The port the server listens on.
    public let port: Int
    private let recorded = Mutex<[RecordedRequest]>([])

    private init(port: Int) {
        self.port = port
    }

    /// The base URL for ``OpenAIConfiguration/baseURL``: `http://127.0.0.1:PORT/v1`.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] { recorded.withLock { $0 } }

    /// The chat completion requests received so far.
    public var chatRequests: [RecordedRequest] { requests.filter { $0.isChatCompletion || $0.isMessages } }

    /// Starts a server on a free loopback port, runs `body` with it, and stops it. Its
    /// connections are served on `eventLoopGroup` (default: NIO's shared group).
    public static func withServer<T: Sendable>(
        port: Int = 0, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        responder: Responder, _ body: (OpenAICompatibleServer) async throws -> T
    ) async throws -> T {
        let listener = try await bind(port: port, group: eventLoopGroup)
        let server = OpenAICompatibleServer(port: listener.channel.localAddress?.port ?? port)
        let serving = server.startServing(listener, responder: responder)
        do {
            let result = try await body(server)
            await stop(listener, serving)
            return result
        } catch {
            await stop(listener, serving)
            throw error
        }
    }

    /// Runs a server until the task is cancelled; `onListening` receives it once it accepts
    /// connections. For long-lived use such as `keel chaos-llm`.
    public static func run(host: String = "127.0.0.1", port: Int, responder: Responder, onListening: (OpenAICompatibleServer) -> Void) async throws {
        let listener = try await bind(host: host, port: port)
        let server = OpenAICompatibleServer(port: listener.channel.localAddress?.port ?? port)
        onListening(server)
        let serving = server.startServing(listener, responder: responder)
        await withTaskCancellationHandler {
            await serving.value
        } onCancel: {
            listener.channel.close(promise: nil)
        }
    }

    /// Closes the listener and waits until every connection has ended.
    private static func stop(_ listener: NIOAsyncChannel<Connection, Never>, _ serving: Task<Void, Never>) async {
        listener.channel.close(promise: nil)
        await serving.value
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private static func bind(
        host: String = "127.0.0.1", port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<Connection, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Accepts connections until the listener is closed, then ends the open ones.
    ///
    /// The accepting loop runs in a task of its own, which nobody cancels: a connection accepted
    /// just before the listener closes is still handed over and closed properly, where a cancelled
    /// loop would drop it (and NIO traps on an `NIOAsyncChannel` dropped unclosed). Once the
    /// listener is closed, the tasks serving connections are cancelled, so a reply that hangs or a
    /// client that keeps its connection open cannot hold the server.
    private func startServing(_ listener: NIOAsyncChannel<Connection, Never>, responder: Responder) -> Task<Void, Never> {
        Task {
            await withDiscardingTaskGroup { connections in
                try? await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        connections.addTask { await self.handle(connection, responder: responder) }
                    }
                }
                connections.cancelAll()
            }
        }
    }

    private func handle(_ connection: Connection, responder: Responder) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.removeAll(keepingCapacity: true)
                case .body(let buffer):
                    body.append(contentsOf: buffer.readableBytesView)
                case .end:
                    guard let requestHead = head else { continue }
                    let request = RecordedRequest(
                        method: requestHead.method.rawValue, uri: requestHead.uri,
                        headers: requestHead.headers.map { ($0.name, $0.value) }, body: body)
                    recorded.withLock { $0.append(request) }
                    let reply = await route(request, responder: responder)
                    let keepOpen = try await write(reply, for: request, to: outbound)
                    if !keepOpen || !requestHead.isKeepAlive { return }
                }
            }
        }
    }

    private func route(_ request: RecordedRequest, responder: Responder) async -> ServerReply {
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        switch (request.method, path) {
        case ("POST", "/v1/messages/count_tokens"), ("POST", "/messages/count_tokens"):
            return Self.countTokens(for: request)
        case ("POST", "/v1/chat/completions"), ("POST", "/chat/completions"), ("POST", "/v1/messages"), ("POST", "/messages"):
            return await responder.respond(request)
        case ("POST", "/v1/embeddings"), ("POST", "/embeddings"):
            return Self.embeddings(for: request)
        case ("GET", "/v1/models"), ("GET", "/models"):
            return ServerReply(body: .json(["object": "list", "data": [["id": "keel-test", "object": "model", "owned_by": "keel"]]]))
        default:
            return .error(status: 404, message: "No route for \(request.method) \(path).", type: "invalid_request_error")
        }
    }

    /// Writes the reply; returns whether the connection may serve another request.
    private func write(_ reply: ServerReply, for request: RecordedRequest, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws -> Bool {
        if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
        var headers = HTTPHeaders(reply.headers)
        let status = HTTPResponseStatus(statusCode: reply.status)
        func writeWhole(_ bytes: [UInt8], contentType: String) async throws {
            headers.replaceOrAdd(name: "content-type", value: contentType)
            headers.replaceOrAdd(name: "content-length", value: String(bytes.count))
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
                .body(.byteBuffer(ByteBuffer(bytes: bytes))),
                .end(nil),
            ])
        }
        func writeEvents(_ payloads: [String], done: Bool, endCleanly: Bool) async throws {
            headers.replaceOrAdd(name: "content-type", value: "text/event-stream")
            headers.replaceOrAdd(name: "cache-control", value: "no-cache")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
            // The Messages API names each event after its type, as Anthropic's server does.
            var events = payloads.map { payload in
                let name = request.isMessages ? (try? JSONValue(parsing: payload))?["type"]?.stringValue : nil
                return (name.map { "event: \($0)\n" } ?? "") + "data: \(payload)\n\n"
            }
            if done { events.append("data: [DONE]\n\n") }
            var pieces: [[UInt8]] = events.map { Array($0.utf8) }
            if let size = reply.streamPieceSize, size > 0 {
                let bytes = Array(events.joined().utf8)
                pieces = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            }
            for (index, piece) in pieces.enumerated() {
                if index > 0, reply.pieceInterval > .zero { try await Task.sleep(for: reply.pieceInterval) }
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: piece))))
            }
            if endCleanly { try await outbound.write(.end(nil)) }
        }

        /// Sends the head of an event stream, then `piece` until the client hangs up (a write
        /// fails) or the server stops.
        func writeForever(_ piece: ByteBuffer, after prefix: ByteBuffer? = nil) async throws {
            headers.replaceOrAdd(name: "content-type", value: "text/event-stream")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
            if let prefix { try await outbound.write(.body(.byteBuffer(prefix))) }
            while !Task.isCancelled { try await outbound.write(.body(.byteBuffer(piece))) }
        }

        /// A streamed reply's events in the format of the request's API.
        func streamPayloads(_ response: ChatResponse, includeUsage: Bool) -> [String] {
            let model = request.json?["model"]?.stringValue ?? "keel-test"
            if request.isMessages { return MessagesWire.streamEvents(response, model: model).map { $0.serialized() } }
            return ChatCompletionsWire.streamChunks(response, model: model, created: 0, includeUsage: includeUsage).map { $0.serialized() }
        }

        switch reply.body {
        case .chat(let response) where request.isMessages:
            // Anthropic's Messages API: the same reply in its format.
            if request.json?["stream"]?.boolValue == true {
                try await writeEvents(streamPayloads(response, includeUsage: true), done: false, endCleanly: true)
            } else {
                let model = request.json?["model"]?.stringValue ?? "keel-test"
                try await writeWhole(MessagesWire.responseBody(response, model: model).serializedBytes(), contentType: "application/json")
            }
            return true
        case .chat(let response):
            let model = request.json?["model"]?.stringValue ?? "keel-test"
            let created = 1_767_225_600
            if request.json?["stream"]?.boolValue == true {
                let includeUsage = request.json?["stream_options"]?["include_usage"]?.boolValue ?? false
                let chunks = ChatCompletionsWire.streamChunks(response, model: model, created: created, includeUsage: includeUsage)
                try await writeEvents(chunks.map { $0.serialized() }, done: true, endCleanly: true)
            } else {
                try await writeWhole(ChatCompletionsWire.responseBody(response, model: model, created: created).serializedBytes(), contentType: "application/json")
            }
            return true
        case .json(let value):
            try await writeWhole(value.serializedBytes(), contentType: "application/json")
            return true
        case .text(let text, let contentType):
            try await writeWhole(Array(text.utf8), contentType: contentType)
            return true
        case .events(let payloads, let done):
            try await writeEvents(payloads, done: done, endCleanly: true)
            return true
        case .truncatedStream(let response, let count):
            try await writeEvents(Array(streamPayloads(response, includeUsage: true).prefix(count)), done: false, endCleanly: false)
            return false
        case .stalledStream(let response, let count):
            try await writeEvents(Array(streamPayloads(response, includeUsage: true).prefix(count)), done: false, endCleanly: false)
            try await Task.sleep(for: .seconds(86_400))
            return false
        case .endlessEvents:
            let chunk = #"{"id":"x","choices":[{"index":0,"delta":{"content":"more "},"finish_reason":null}]}"#
            let piece = ByteBuffer(string: String(repeating: "data: \(chunk)\n\n", count: 512))
            try await writeForever(piece)
            return false
        case .endlessLine:
            try await writeForever(ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 << 10), after: ByteBuffer(string: "data: "))
            return false
        case .hang:
            try await Task.sleep(for: .seconds(86_400))
            return false
        }
    }

    /// Anthropic's token count: `{"input_tokens": N}`, N counted as the offline models count.
    private static func countTokens(for request: RecordedRequest) -> ServerReply {
        guard case .object(var body) = request.json ?? .null else {
            return .anthropicError(status: 400, type: "invalid_request_error", message: "The body is not JSON.")
        }
        body["max_tokens"] = 1  // which a count does not send, and a request must have
        do {
            let parsed = try MessagesWire.parseRequest(.object(body))
            return ServerReply(body: .json(["input_tokens": .number(Double(UsageEstimate.tokens(in: parsed)))]))
        } catch {
            return .anthropicError(status: 400, type: "invalid_request_error", message: error.message)
        }
    }

    /// Deterministic unit vectors of 8 dimensions derived from each input's bytes.
    private static func embeddings(for request: RecordedRequest) -> ServerReply {
        guard let json = request.json else { return .error(status: 400, message: "The body is not JSON.", type: "invalid_request_error") }
        let inputs = json["input"]?.arrayValue?.compactMap(\.stringValue) ?? json["input"]?.stringValue.map { [$0] } ?? []
        let data: [JSONValue] = inputs.enumerated().map { index, input in
            var vector = [Double](repeating: 0, count: 8)
            for (position, byte) in input.utf8.enumerated() { vector[position % 8] += Double(byte) }
            let norm = max(vector.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1)
            return ["object": "embedding", "index": .number(Double(index)), "embedding": .array(vector.map { .number($0 / norm) })]
        }
        let tokens = inputs.reduce(0) { $0 + UsageEstimate.tokens(in: $1) }
        return ServerReply(body: .json([
            "object": "list", "data": .array(data), "model": json["model"] ?? "keel-test",
            "usage": ["prompt_tokens": .number(Double(tokens)), "total_tokens": .number(Double(tokens))],
        ]))
    }
}
