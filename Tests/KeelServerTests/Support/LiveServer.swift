import Foundation
import Hummingbird
import KeelCore
import KeelRuntime
import KeelServer
import KeelTestSupport
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Keel's server on a free loopback port, over a real socket, for the length of a test.
struct LiveServer {
    let baseURL: String
    let client: LoopbackHTTP

    /// Runs `server` for the length of `body`.
    static func with<T: Sendable>(_ server: KeelServer, _ body: (LiveServer) async throws -> T) async throws -> T {
        let port = Mutex<Int?>(nil)
        let app = server.application(configuration: .init(address: .hostname("127.0.0.1", port: 0))) { channel in
            port.withLock { $0 = channel.localAddress?.port }
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: .init(label: "keel.server.test")))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let started = ContinuousClock.now
        while port.withLock({ $0 }) == nil {
            guard ContinuousClock.now - started < .seconds(30) else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
        let baseURL = "http://127.0.0.1:\(port.withLock { $0 } ?? 0)"
        let live = LiveServer(baseURL: baseURL, client: LoopbackHTTP(baseURL: baseURL))
        do {
            let result = try await body(live)
            try await live.client.shutdown()
            await group.triggerGracefulShutdown()
            _ = await running.result
            return result
        } catch {
            try? await live.client.shutdown()
            await group.triggerGracefulShutdown()
            throw error
        }
    }

    func request(_ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil, headers: [(String, String)] = []) async throws -> LoopbackHTTP.Answer {
        try await client.request(method, path, key: key, json: json, headers: headers)
    }

    /// A request with a form's body (its Content-Type in `headers`).
    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)], form: String) async throws -> LoopbackHTTP.Answer {
        try await client.request(method, path, headers: headers, body: form)
    }
}
