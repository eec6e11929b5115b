import Foundation
import Hummingbird
import KeelRuntime
import Synchronization

/// Finds the request's key (`Authorization: Bearer KEY`) in the store, refuses a missing, unknown
/// or revoked one with 401, and holds each key to its request rate (429 with `Retry-After`).
struct Authentication: RouterMiddleware {
    typealias Context = ServerContext

    let keys: any APIKeyStore
    let limiter: KeyRateLimiter
    let sessions: DashboardSessions

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let hash: String
        if let header = request.headers[.authorization] {
            guard header.count <= 256, header.lowercased().hasPrefix("bearer ") else { throw APIError.unauthorized }
            let presented = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
            guard presented.hasPrefix("keel_") else { throw APIError.unauthorized }
            hash = APIKeys.hash(presented)
        } else if let token = DashboardSessions.token(of: request), let session = sessions.session(token) {
            // The dashboard's session cookie; a change must also carry the session's CSRF token.
            if request.method != .get && request.method != .head {
                guard let sent = request.headers[.init("X-CSRF-Token")!], DashboardSessions.same(sent, session.csrf) else {
                    throw APIError(.forbidden, "csrf", "a change made with the dashboard's session needs its CSRF token")
                }
            }
            hash = session.keyHash
        } else {
            throw APIError.unauthorized
        }
        guard let key = try await keys.key(hash: hash), key.revokedAt == nil else { throw APIError.unauthorized }
        if let wait = limiter.take(key.id) {
            throw APIError(.tooManyRequests, "rate_limited", "this key sends more than \(limiter.perSecond) requests a second", retryAfter: wait)
        }
        var context = context
        context.caller = key
        context.logger[metadataKey: "key"] = "\(key.id)"
        return try await next(request, context)
    }
}

/// A token bucket per key: `perSecond` requests a second, bursts of up to `burst`.
final class KeyRateLimiter: Sendable {
    let perSecond: Int
    let burst: Int
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }
    private let buckets = Mutex<[String: Bucket]>([:])

    init(perSecond: Int, burst: Int) {
        self.perSecond = max(1, perSecond)
        self.burst = max(1, burst)
    }

    /// Takes a request of `key`: `nil` when allowed, else the whole seconds to wait.
    func take(_ key: String) -> Int? {
        let now = ContinuousClock.now
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(burst), updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Double(burst), bucket.tokens + seconds * Double(perSecond))
            bucket.updated = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / Double(perSecond)).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
