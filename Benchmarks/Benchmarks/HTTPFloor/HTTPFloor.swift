import AsyncHTTPClient
import Benchmark
import KeelApp
import KeelHTTP
import KeelOpenAI
import KeelTesting
import NIOCore
import NIOHTTP1
import NIOPosix

// What a loopback HTTP round trip costs on this machine with no Keel code on either side: the
// floor under the agent loop's HTTP figures in BENCHMARKS.md.

/// Answers every request with a fixed small JSON body, on the event loop.
final class FixedResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = ByteBuffer(string: #"{"ok":true}"#)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        context.write(wrapOutboundOut(.head(.init(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

func startServer(on group: any EventLoopGroup) async throws -> any Channel {
    try await ServerBootstrap(group: group)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(FixedResponder())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

/// A bare NIO HTTP/1.1 client: sends `GET /` and completes a promise when the response ends.
final class RawClient: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    private var pending: EventLoopPromise<Void>?  // touched on the channel's loop only

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let promise = pending
        pending = nil
        promise?.succeed()
    }

    /// Sends `count` requests one after another, all on the loop, and completes when the last
    /// response has arrived.
    func roundTrips(_ count: Int, on channel: any Channel) -> EventLoopFuture<Void> {
        let done = channel.eventLoop.makePromise(of: Void.self)
        var remaining = count
        func next() {
            guard remaining > 0 else { return done.succeed() }
            remaining -= 1
            let response = channel.eventLoop.makePromise(of: Void.self)
            pending = response
            var headers = HTTPHeaders()
            headers.add(name: "host", value: "127.0.0.1")
            channel.write(HTTPClientRequestPart.head(.init(version: .http1_1, method: .GET, uri: "/", headers: headers)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            response.futureResult.whenSuccess { next() }
        }
        channel.eventLoop.execute { next() }
        return done.futureResult
    }
}

func connectRawClient(to server: any Channel, on group: any EventLoopGroup, handler: RawClient) async throws -> any Channel {
    try await ClientBootstrap(group: group)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        .connect(host: "127.0.0.1", port: server.localAddress?.port ?? 0).get()
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(5))

    Benchmark("NIO, one thread: 1,000 round trips chained on the loop", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await startServer(on: group)
        let handler = RawClient()
        let client = try await connectRawClient(to: server, on: group, handler: handler)
        benchmark.startMeasurement()
        try await handler.roundTrips(benchmark.scaledIterations.count, on: client).get()
        benchmark.stopMeasurement()
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }

    Benchmark("NIO, default threads: one round trip awaited from a task") { benchmark in
        let server = try await startServer(on: MultiThreadedEventLoopGroup.singleton)
        let handler = RawClient()
        let client = try await connectRawClient(to: server, on: MultiThreadedEventLoopGroup.singleton, handler: handler)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try await handler.roundTrips(1, on: client).get() }
        benchmark.stopMeasurement()
        try await client.close()
        try await server.close()
    }

    Benchmark("AsyncHTTPClient, default threads") { benchmark in
        let server = try await startServer(on: MultiThreadedEventLoopGroup.singleton)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.localAddress?.port ?? 0)/")
        request.method = .GET
        _ = try await HTTPClient.keel.execute(request, timeout: .seconds(5)).body.collect(upTo: 1 << 20)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await HTTPClient.keel.execute(request, timeout: .seconds(5)).body.collect(upTo: 1 << 20))
        }
        benchmark.stopMeasurement()
        try await server.close()
    }

    Benchmark("AsyncHTTPClient, one thread: task, client and server on one event loop") { benchmark in
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await startServer(on: group)
        let client = HTTPClient(eventLoopGroup: group)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.localAddress?.port ?? 0)/")
        request.method = .GET
        try await withTaskExecutorPreference(EventLoopExecutor(group.next())) {
            _ = try await client.execute(request, timeout: .seconds(5)).body.collect(upTo: 1 << 20)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await client.execute(request, timeout: .seconds(5)).body.collect(upTo: 1 << 20))
            }
            benchmark.stopMeasurement()
        }
        try await client.shutdown()
        try await server.close()
        try await group.shutdownGracefully()
    }
}
