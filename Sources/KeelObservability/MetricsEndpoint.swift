import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Keel's metrics (and any other swift-metrics metric of the process) in Prometheus's text format
/// at `GET /metrics`, on a port of its own.
///
/// ```swift
/// let registry = PrometheusCollectorRegistry()
/// let observability = try Observability.start(environment: environment, prometheus: registry)
/// let endpoint = try await MetricsEndpoint.start(registry: registry, port: 9464)
/// // … run workers …
/// try await endpoint.close()
/// ```
///
/// `keel worker --metrics-port 9464` does this. The metrics are listed in KeelRuntime's
/// Observability article.
public final class MetricsEndpoint: Sendable {
    /// The port it listens on (the one chosen, when started with port 0).
    public let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// Serves `registry` on `host`:`port` (0 picks a free port). The metrics reach the registry
    /// when swift-metrics is bootstrapped with it — ``Observability/start(environment:serviceName:logger:prometheus:)``
    /// does that.
    public static func start(registry: PrometheusCollectorRegistry, host: String = "127.0.0.1", port: Int) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ScrapeHandler(registry: registry))
                }
            }
            .bind(host: host, port: port).get()
        return MetricsEndpoint(port: channel.localAddress?.port ?? port, channel: channel)
    }

    /// Stops listening.
    public func close() async throws {
        try await channel.close()
    }
}

/// Answers `GET /metrics` with the registry's text, anything else with 404, one request a
/// connection.
private final class ScrapeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            let found = head.method == .GET && path == "/metrics"
            let body = found ? registry.emitToBuffer() : Array("not found\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
            headers.add(name: "content-length", value: String(body.count))
            headers.add(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
            self.head = nil
        }
    }
}
