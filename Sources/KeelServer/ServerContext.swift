import Foundation
import Hummingbird
import KeelRuntime

/// The request context of Keel's server: the caller's key once the request is authenticated.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The key the request was made with (set by the authentication middleware).
    public var caller: APIKeyRecord?

    public init(source: Source) {
        coreContext = .init(source: source)
        caller = nil
    }

    /// Request bodies over 256 KiB are refused with 413.
    public var maxUploadSize: Int { 256 * 1024 }

    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The caller, who must hold at least `role`.
    func caller(atLeast role: APIKeyRole) throws -> APIKeyRecord {
        guard let caller else { throw APIError.unauthorized }
        guard caller.role >= role else { throw APIError.forbidden(role) }
        return caller
    }
}
