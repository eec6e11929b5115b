import AsyncHTTPClient
import Foundation
import KeelCore
import NIOCore
import NIOHTTP1

/// A JSON client of a server on loopback, for tests: one request at a time, answers whole.
public struct LoopbackHTTP: Sendable {
    public let baseURL: String
    private let client: HTTPClient

    /// One answer: its status, headers and body.
    public struct Answer: Sendable, CustomStringConvertible {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: String
        public var json: JSONValue? { try? JSONValue(parsing: body) }
        public var description: String { "\(status) \(body.prefix(500))" }
    }

    public init(baseURL: String) {
        self.baseURL = baseURL
        client = HTTPClient(eventLoopGroupProvider: .singleton)
    }

    /// Sends one request, with `key` as its bearer token when given.
    public func request(_ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// Closes the client's connections.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}
