import AsyncHTTPClient
import Foundation
import KeelCore
import Logging
import MCP
import NIOCore
import NIOHTTP1

/// MCP's streamable HTTP transport on AsyncHTTPClient.
///
/// Each message is a POST; the server answers with one JSON message, a stream of server-sent
/// events (notifications, then the response), or `202 Accepted` for notifications. The session id
/// the server assigns and the protocol version agreed at initialization go on every later request;
/// closing ends the session with a DELETE.
///
/// The swift-sdk's own HTTP client transport reads only JSON answers on Linux; servers that answer
/// with events — the default of the Python and TypeScript SDKs — need this one.
actor StreamableHTTPTransport: Transport {
    nonisolated let logger: Logger
    let endpoint: URL
    private let headers: [String: String]
    private let client: HTTPClient
    private let requestTimeout: Duration
    private let idleTimeout: Duration
    private var sessionID: String?
    private var protocolVersion: String?
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation

    /// The most a single answer may hold (a JSON body, or an event stream in all).
    static let maxBodyBytes = 32 << 20

    /// The client MCP requests go through: a refused connection fails at once (rather than the
    /// pool retrying it until the request's time is up), and connecting may take 10 seconds.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool.retryConnectionEstablishment = false
        // Headers given for the server (an Authorization) must not follow a redirect elsewhere.
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    init(
        endpoint: URL, headers: [String: String], client: HTTPClient = StreamableHTTPTransport.client, requestTimeout: Duration,
        idleTimeout: Duration, logger: Logger
    ) {
        self.endpoint = endpoint
        self.headers = headers
        self.client = client
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.logger = logger
        (messages, continuation) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {}

    func disconnect() async {
        if let sessionID {
            var request = HTTPClientRequest(url: endpoint.absoluteString)
            request.method = .DELETE
            request.headers.add(name: "Mcp-Session-Id", value: sessionID)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            _ = try? await client.execute(request, timeout: .seconds(5))
            self.sessionID = nil
        }
        continuation.finish()
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    func send(_ data: Data) async throws {
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        if let sessionID { request.headers.add(name: "Mcp-Session-Id", value: sessionID) }
        if let protocolVersion { request.headers.add(name: "MCP-Protocol-Version", value: protocolVersion) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: data))

        let started = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(requestTimeout.saturatingNanoseconds))
        } catch {
            throw MCPToolsetError(.connectionFailed, "the MCP server at \(endpoint) could not be reached: \(error)")
        }
        if let id = response.headers.first(name: "Mcp-Session-Id") { sessionID = id }
        let status = response.status.code
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            if status == 404, sessionID != nil {
                throw MCPToolsetError(.connectionFailed, "the MCP server at \(endpoint) ended the session (404)")
            }
            throw MCPToolsetError(.connectionFailed, "the MCP server at \(endpoint) answered \(status): \(body.prefix(500))")
        }
        if status == 202 { return }
        let contentType = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        let (endpoint, idle, total) = (endpoint, idleTimeout, requestTimeout)
        // AsyncHTTPClient's deadline ends with the response head; the body is bounded here.
        try await withReadLimits(
            response.body, ReadLimits(idle: idle, deadline: started + total),
            onIdle: { MCPToolsetError(.timedOut, "the MCP server at \(endpoint) sent nothing for \(idle) in the middle of its answer") },
            onDeadline: { MCPToolsetError(.timedOut, "the MCP server at \(endpoint) did not finish its answer within \(total)") }
        ) { chunks in
            if contentType.hasPrefix("text/event-stream") {
                var parser = ServerSentEventParser(limits: .init(totalBytes: Self.maxBodyBytes))
                do {
                    for try await chunk in chunks {
                        for event in try parser.feed(chunk.readableBytesView) { deliver(event) }
                    }
                    for event in try parser.finish() { deliver(event) }
                } catch let error as ServerSentEventParser.LimitExceeded {
                    throw MCPToolsetError(.protocolViolation, "the MCP server at \(endpoint) answered with an oversized stream: \(error)")
                }
            } else {
                var body = ByteBuffer()
                for try await chunk in chunks {
                    guard body.readableBytes + chunk.readableBytes <= Self.maxBodyBytes else {
                        throw MCPToolsetError(.protocolViolation, "the MCP server at \(endpoint) answered with more than \(Self.maxBodyBytes) bytes")
                    }
                    var chunk = chunk
                    body.writeBuffer(&chunk)
                }
                guard body.readableBytes > 0 else { return }
                deliver(Data(body.readableBytesView))
            }
        }
    }

    private func deliver(_ event: ServerSentEvent) {
        guard event.event == nil || event.event == "message", !event.data.isEmpty else { return }
        deliver(Data(event.data.utf8))
    }

    /// Passes a message to the client, noting the protocol version from the answer to `initialize`.
    private func deliver(_ message: Data) {
        if protocolVersion == nil, let json = try? JSONValue(parsing: String(decoding: message, as: UTF8.self)),
            let version = json["result"]?["protocolVersion"]?.stringValue
        {
            protocolVersion = version
        }
        continuation.yield(message)
    }
}
