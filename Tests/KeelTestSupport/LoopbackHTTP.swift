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
        // Redirects are answers to check, not to follow.
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
    }

    /// Sends one request, with `key` as its bearer token when given.
    public func request(
        _ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
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

    /// One server-sent event.
    public struct Event: Sendable, Equatable {
        public var id: String?
        public var event: String
        public var data: String
    }

    /// Reads the server-sent events of `GET path` until `done` says so after an event (or the
    /// stream ends), then drops the connection.
    public func events(
        _ path: String, key: String? = nil, lastEventID: String? = nil, timeout: Duration = .seconds(60), until done: (Event) -> Bool
    ) async throws -> [Event] {
        var request = HTTPClientRequest(url: baseURL + path)
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let seconds = Int64(timeout.components.seconds)
        let response = try await client.execute(request, timeout: .seconds(seconds))
        guard response.status == .ok else { throw LoopbackHTTPFailure(description: "GET \(path): \(response.status)") }
        var events: [Event] = []
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                var event = Event(id: nil, event: "message", data: "")
                var fields = 0
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) where !line.hasPrefix(":") {
                    let parts = line.split(separator: ":", maxSplits: 1).map { $0.hasPrefix(" ") ? String($0.dropFirst()) : String($0) }
                    guard parts.count == 2 else { continue }
                    fields += 1
                    switch parts[0] {
                    case "id": event.id = parts[1]
                    case "event": event.event = parts[1]
                    case "data": event.data += parts[1]
                    default: break
                    }
                }
                guard fields > 0, !event.data.isEmpty else { continue }
                events.append(event)
                if done(event) { return events }
            }
        }
        return events
    }

    /// Closes the client's connections.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}

/// A request to a loopback server that did not go as a test needs.
public struct LoopbackHTTPFailure: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
