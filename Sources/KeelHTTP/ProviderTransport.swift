import AsyncHTTPClient
import Foundation
import KeelCore
import Logging
import NIOCore
import NIOHTTP1

/// Where a provider's API is and what the transport may spend reading it: the transport's half of
/// a provider's configuration.
public struct ProviderEndpoint: Sendable {
    /// The API root, such as `https://api.openai.com/v1`; paths are appended to it.
    public var baseURL: String
    /// Headers sent with every request, credentials included.
    public var headers: [(String, String)]
    /// The longest a whole request may take, its body included.
    public var requestTimeout: Duration
    /// The longest silence in the middle of a reply.
    public var idleTimeout: Duration
    /// The largest body read whole.
    public var maximumResponseBytes: Int
    /// The largest stream of events.
    public var maximumStreamBytes: Int
    /// What never appears in an error's message: keys, credential header values, a password in the
    /// URL. Secrets shorter than four characters are ignored.
    public var secrets: [String]

    public init(
        baseURL: String, headers: [(String, String)] = [], requestTimeout: Duration = .seconds(600), idleTimeout: Duration = .seconds(120),
        maximumResponseBytes: Int = 16 << 20, maximumStreamBytes: Int = 64 << 20, secrets: [String] = []
    ) {
        self.baseURL = baseURL
        self.headers = headers
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.maximumResponseBytes = maximumResponseBytes
        self.maximumStreamBytes = maximumStreamBytes
        self.secrets = secrets.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    /// `baseURL` joined with `path`.
    public func url(_ path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }

    /// `text` with every secret replaced by `<redacted>`.
    public func redacting(_ text: String) -> String {
        secrets.reduce(text) { text, secret in text.replacingOccurrences(of: secret, with: "<redacted>") }
    }
}

/// How a provider's wire format states what the transport needs to know: its rate-limit headers
/// and its error bodies.
public struct ProviderDialect: Sendable {
    /// The rate-limit snapshot of a response's headers, `nil` when it has none.
    public var rateLimit: @Sendable (_ headers: [(String, String)]) -> RateLimitSnapshot?
    /// The error of a failing status and its body (parsed when it is JSON, raw otherwise).
    public var error: @Sendable (_ status: Int, _ body: JSONValue?, _ rawBody: String?, _ rateLimit: RateLimitSnapshot?) -> ModelError

    public init(
        rateLimit: @escaping @Sendable (_ headers: [(String, String)]) -> RateLimitSnapshot?,
        error: @escaping @Sendable (_ status: Int, _ body: JSONValue?, _ rawBody: String?, _ rateLimit: RateLimitSnapshot?) -> ModelError = {
            HTTPErrors.error(status: $0, body: $1, rawBody: $2, rateLimit: $3)
        }
    ) {
        self.rateLimit = rateLimit
        self.error = error
    }
}

/// The HTTP layer every provider shares: posts JSON, reads a reply whole or as server-sent events
/// within size caps and timeouts, and turns statuses and transport failures into ``ModelError``s
/// with secrets redacted. A provider adds its wire format: request bodies, reply parsing, its
/// ``ProviderDialect``.
///
/// ```swift
/// let transport = ProviderTransport(endpoint: endpoint, dialect: dialect)
/// let reply = try await transport.post("/chat/completions", body: body)
/// let json = try await transport.readJSON(reply)
/// ```
public struct ProviderTransport: Sendable {
    public let endpoint: ProviderEndpoint
    public let dialect: ProviderDialect
    public let client: HTTPClient
    public let logger: Logger

    /// A transport to `endpoint` speaking `dialect`, using `client` (default: ``AsyncHTTPClient/HTTPClient/keel``).
    public init(endpoint: ProviderEndpoint, dialect: ProviderDialect, client: HTTPClient = .keel, logger: Logger) {
        self.endpoint = endpoint
        self.dialect = dialect
        self.client = client
        self.logger = logger
    }

    /// A response whose body is still to be read, and the limits for reading it.
    public struct Reply: Sendable {
        public let response: HTTPClientResponse
        public let url: String
        public let limits: ReadLimits
        /// The response's rate-limit headers.
        public let rateLimit: RateLimitSnapshot?
        /// The HTTP status code.
        public var status: Int { Int(response.status.code) }
        /// Whether the status is 2xx: the server accepted the request (and bills for it).
        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// POSTs `body` as JSON to `path` under the base URL. The response's body is still to be read.
    public func post(_ path: String, body: JSONValue) async throws -> Reply {
        let started = ContinuousClock.now
        let url = endpoint.url(path)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        for (name, value) in endpoint.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body.serializedBytes()))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(endpoint.requestTimeout.saturatingNanoseconds), logger: logger)
        } catch {
            var mapped = HTTPErrors.transportError(error, url: url)
            // No head before the deadline: the server may be generating, and bills for it.
            if mapped.code == .timeout { mapped.billing = .unknown }
            throw mapped
        }
        return Reply(
            response: response, url: url, limits: ReadLimits(idle: endpoint.idleTimeout, deadline: started + endpoint.requestTimeout),
            rateLimit: dialect.rateLimit(response.headers.map { ($0.name, $0.value) }))
    }

    /// POSTs `body` to `path` and reads the whole reply with `parse` (given the reply's JSON and
    /// its rate-limit headers). A reply the server accepted (2xx) that cannot be read is billed
    /// (``KeelCore/ModelError/Billing/unknown`` unless the error says more); every error leaves
    /// with the endpoint's secrets redacted.
    public func exchange<T>(
        _ path: String, body: JSONValue, _ parse: (JSONValue, RateLimitSnapshot?) throws(ModelError) -> T
    ) async throws -> T {
        do {
            let reply = try await post(path, body: body)
            do {
                return try parse(try await readJSON(reply), reply.rateLimit)
            } catch var error as ModelError where reply.isSuccess {
                // The server accepted the request: what it processed is billed.
                if error.billing == .notBilled { error.billing = .unknown }
                throw error
            }
        } catch let error as ModelError {
            throw redacting(error)
        }
    }

    /// Reads `reply`'s body in pieces, each within the idle timeout and all before the request's
    /// deadline (AsyncHTTPClient's own deadline ends when the response head arrives). Transport
    /// failures become ``ModelError``s; what `body` throws passes through.
    public func readBody<Result>(
        _ reply: Reply, isolation: isolated (any Actor)? = #isolation, _ body: (AsyncThrowingStream<ByteBuffer, any Error>) async throws -> Result
    ) async throws -> Result {
        let url = reply.url
        let idle = endpoint.idleTimeout
        let total = endpoint.requestTimeout
        do {
            return try await withReadLimits(
                reply.response.body, reply.limits,
                onIdle: { ModelError(.timeout, message: "\(url) sent nothing for \(idle) in the middle of its reply.") },
                onDeadline: { ModelError(.timeout, message: "No complete answer from \(url) within \(total).") }, isolation: isolation, body)
        } catch let error as ModelError {
            throw error
        } catch {
            throw HTTPErrors.transportError(error, url: url)
        }
    }

    /// Reads a whole (non-streamed) body, at most ``ProviderEndpoint/maximumResponseBytes``, and
    /// parses it as JSON. A failing status becomes the error the dialect gives it; a body that is
    /// not JSON, ``ModelError/Code/malformedResponse``.
    public func readJSON(_ reply: Reply) async throws -> JSONValue {
        let rateLimit = reply.rateLimit
        let status = reply.status
        let maximum = endpoint.maximumResponseBytes
        let bytes = try await readBody(reply) { chunks in
            var collected = ByteBuffer()
            for try await chunk in chunks {
                guard collected.readableBytes + chunk.readableBytes <= maximum else {
                    throw ModelError(.malformedResponse, message: "The response is larger than \(maximum) bytes.")
                }
                var chunk = chunk
                collected.writeBuffer(&chunk)
            }
            return collected
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes.readableBytesView)
        } catch {
            guard reply.isSuccess else { throw redacting(dialect.error(status, nil, String(buffer: bytes), rateLimit)) }
            throw ModelError(.malformedResponse, message: "The response body is not JSON (\(error.description)).", statusCode: status, rateLimit: rateLimit)
        }
        guard reply.isSuccess else { throw redacting(dialect.error(status, json, nil, rateLimit)) }
        return json
    }

    /// Reads `reply`'s body as server-sent events, at most ``ProviderEndpoint/maximumStreamBytes``
    /// of them, handing each batch to `handle` until it answers `true` (the stream's end marker) or
    /// the body ends. A failing status is read whole and thrown as its error.
    public func readEvents(
        _ reply: Reply, isolation: isolated (any Actor)? = #isolation, _ handle: ([ServerSentEvent]) async throws -> Bool
    ) async throws {
        guard reply.isSuccess else {
            _ = try await readJSON(reply)  // throws the error the status and body describe
            throw ModelError(.server, message: "HTTP \(reply.status).", statusCode: reply.status, rateLimit: reply.rateLimit)
        }
        var parser = ServerSentEventParser(limits: .init(totalBytes: endpoint.maximumStreamBytes))
        let status = reply.status
        try await readBody(reply, isolation: isolation) { chunks in
            do {
                for try await buffer in chunks {
                    if try await handle(parser.feed(buffer.readableBytesView)) { return }
                }
                _ = try await handle(parser.finish())
            } catch let error as ServerSentEventParser.LimitExceeded {
                throw ModelError(.malformedResponse, message: "The stream is too large: \(error.description).", statusCode: status)
            }
        }
    }

    /// The error with every secret of the endpoint removed from its message — some servers echo
    /// what they were sent, in error statuses and in 200 replies alike.
    public func redacting(_ error: ModelError) -> ModelError {
        var redacted = error
        redacted.message = endpoint.redacting(error.message)
        return redacted
    }
}
