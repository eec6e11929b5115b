import AsyncHTTPClient
import Foundation
import KeelCore
import KeelHTTP
import KeelOpenAI
import KeelRuntime
import Logging
import NIOCore

/// Sends each alert as a JSON `POST` to a URL (Slack-compatible: the body has a `text` field, and
/// the alert itself under `alert`). A failed delivery is logged, never thrown.
public struct WebhookAlertHook: AlertHook {
    public let url: String
    /// How long a delivery may take. Default: 10 seconds.
    public var timeout: Duration = .seconds(10)
    private let client: HTTPClient
    private let logger: Logger

    public init(url: String, client: HTTPClient = .keel, logger: Logger = Logger(label: "keel.alerts")) {
        self.url = url
        self.client = client
        self.logger = logger
    }

    /// Only the webhook's host is logged: its path is often its secret (Slack's are).
    private var host: String { URLComponents(string: url)?.host ?? "the webhook" }

    public func send(_ alert: Alert) async {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let alertJSON = (try? JSONValue(encoding: alert)) ?? .null
        request.body = .bytes(ByteBuffer(bytes: JSONValue.object(["text": .string(alert.message), "alert": alertJSON]).serializedBytes()))
        let started = ContinuousClock.now
        let timeout = timeout
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.saturatingNanoseconds))
            // The answer is read (and dropped) within the same time limit: AsyncHTTPClient's ends
            // with the response head.
            try await withReadLimits(
                response.body, ReadLimits(idle: timeout, deadline: started + timeout),
                onIdle: { ModelError(.timeout, message: "the webhook stopped answering") },
                onDeadline: { ModelError(.timeout, message: "the webhook did not finish answering within \(timeout)") }
            ) { chunks in
                var received = 0
                for try await chunk in chunks {
                    received += chunk.readableBytes
                    if received > 1 << 16 { break }
                }
            }
            if !(200..<300).contains(Int(response.status.code)) {
                logger.warning("the alert webhook answered \(response.status.code)", metadata: ["host": "\(host)"])
            }
        } catch {
            logger.warning("the alert webhook could not be reached: \(error)", metadata: ["host": "\(host)"])
        }
    }
}
