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

    /// POSTs `body` to `path` under the base URL. The response's body is still to be read.
    func post(_ path: String, body: JSONValue) async throws -> (HTTPClientResponse, url: String) {
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
        let timeout = configuration.requestTimeout.components
        let nanoseconds = timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000
        do {
            return (try await client.execute(request, timeout: .nanoseconds(nanoseconds), logger: logger), url)
        } catch {
            throw ErrorMapping.transportError(error, url: url)
        }
    }

    /// Reads a whole (non-streamed) body and parses it as JSON. A failing status becomes the
    /// matching ``ModelError``; a body that is not JSON, ``ModelError/Code/malformedResponse``.
    func readJSON(_ response: HTTPClientResponse, url: String) async throws -> (JSONValue, RateLimitSnapshot?) {
        let rateLimit = Self.rateLimit(response.headers)
        let status = Int(response.status.code)
        let bytes: ByteBuffer
        do {
            bytes = try await response.body.collect(upTo: configuration.maximumResponseBytes)
        } catch let error as NIOTooManyBytesError {
            throw ModelError(.malformedResponse, message: "The response is larger than \(configuration.maximumResponseBytes) bytes.", underlying: error)
        } catch {
            throw ErrorMapping.transportError(error, url: url)
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

    /// The error with the API key removed from the provider's message (some servers echo it).
    func redacting(_ error: ModelError) -> ModelError {
        guard let key = configuration.apiKey, key.count >= 4, error.message.contains(key) else { return error }
        var redacted = error
        redacted.message = error.message.replacingOccurrences(of: key, with: "<redacted>")
        return redacted
    }

    static func rateLimit(_ headers: HTTPHeaders) -> RateLimitSnapshot? {
        RateLimitHeaders.parse(headers.map { ($0.name, $0.value) })
    }
}
