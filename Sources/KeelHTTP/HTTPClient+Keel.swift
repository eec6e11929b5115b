import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// The client Keel's providers use unless given another: it fails fast when a server cannot
    /// be reached (Keel's own retry policy decides what happens next, rather than the connection
    /// pool retrying for 90 seconds), connects within 10 seconds, leaves the whole-request limit to
    /// ``ProviderEndpoint/requestTimeout``, and keeps up to 64 connections per host for runs
    /// that share a provider. Redirects are not followed, so credentials never go to another
    /// origin.
    public static let keel: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.connectionPool.idleTimeout = .seconds(60)
        configuration.decompression = .enabled(limit: .ratio(25))
        // An API does not redirect; following one would carry the key and any credential header
        // to wherever the answer points.
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
