import AsyncHTTPClient
import Foundation
import KeelCore
import Logging
import NIOCore
import NIOHTTP1

/// Sends JSON requests to an OpenAI-compatible server and maps transport failures.
struct OpenAITransport: Sendable {
    let configuration: OpenAIConfiguration
    let client: HTTPClient
    let logger: Logger

    /// A response whose body is still to be read, and the limits for reading it.
    struct Reply {
        let response: HTTPClientResponse
        let url: String
        let limits: ReadLimits
    }

    /// POSTs `body` to `path` under the base URL. The response's body is still to be read.
    func post(_ path: String, body: JSONValue) async throws -> Reply {
        let started = ContinuousClock.now
        let url = configuration.url(path)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        if let key = configuration.apiKey, !key.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let organization = configuration.organization { request.headers.add(name: "OpenAI-Organization", value: organization) }
        if let project = configuration.project { request.headers.add(name: "OpenAI-Project", value: project) }
        for (name, value) in configuration.extraHeaders { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body.serializedBytes()))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(configuration.requestTimeout.saturatingNanoseconds), logger: logger)
        } catch {
            var mapped = ErrorMapping.transportError(error, url: url)
            // No head before the deadline: the server may be generating, and bills for it.
            if mapped.code == .timeout { mapped.billing = .unknown }
            throw mapped
        }
        return Reply(response: response, url: url, limits: ReadLimits(idle: configuration.idleTimeout, deadline: started + configuration.requestTimeout))
    }

    /// Reads `reply`'s body in pieces, each within the idle timeout and all before the request's
    /// deadline (AsyncHTTPClient's own deadline ends when the response head arrives). Transport
    /// failures become ``ModelError``s; what `body` throws passes through.
    func readBody<Result>(
        _ reply: Reply, isolation: isolated (any Actor)? = #isolation, _ body: (AsyncThrowingStream<ByteBuffer, any Error>) async throws -> Result
    ) async throws -> Result {
        let url = reply.url
        let idle = configuration.idleTimeout
        let total = configuration.requestTimeout
        do {
            return try await withReadLimits(
                reply.response.body, reply.limits,
                onIdle: { ModelError(.timeout, message: "\(url) sent nothing for \(idle) in the middle of its reply.") },
                onDeadline: { ModelError(.timeout, message: "No complete answer from \(url) within \(total).") }, isolation: isolation, body)
        } catch let error as ModelError {
            throw error
        } catch {
            throw ErrorMapping.transportError(error, url: url)
        }
    }

    /// Reads a whole (non-streamed) body and parses it as JSON. A failing status becomes the
    /// matching ``ModelError``; a body that is not JSON, ``ModelError/Code/malformedResponse``.
    func readJSON(_ reply: Reply) async throws -> (JSONValue, RateLimitSnapshot?) {
        let response = reply.response
        let rateLimit = Self.rateLimit(response.headers)
        let status = Int(response.status.code)
        let maximum = configuration.maximumResponseBytes
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
            guard (200..<300).contains(status) else {
                throw redacting(ErrorMapping.error(status: status, body: nil, rawBody: String(buffer: bytes), rateLimit: rateLimit))
            }
            throw ModelError(.malformedResponse, message: "The response body is not JSON (\(error.description)).", statusCode: status, rateLimit: rateLimit)
        }
        guard (200..<300).contains(status) else {
            throw redacting(ErrorMapping.error(status: status, body: json, rateLimit: rateLimit))
        }
        return (json, rateLimit)
    }

    /// The error with every secret of the configuration removed from its message: the API key,
    /// the values of extra headers (gateway keys) and a password in the base URL — some servers
    /// echo what they were sent, in error statuses and in 200 replies alike.
    func redacting(_ error: ModelError) -> ModelError {
        var redacted = error
        redacted.message = configuration.redacting(error.message)
        return redacted
    }

    static func rateLimit(_ headers: HTTPHeaders) -> RateLimitSnapshot? {
        RateLimitHeaders.parse(headers.map { ($0.name, $0.value) })
    }
}
