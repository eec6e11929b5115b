import Foundation
import Hummingbird
import KeelRuntime
import Synchronization

/// The dashboard's sign-ins: a random token in an HttpOnly, SameSite=Strict cookie, kept in
/// memory with the key's hash (so a revoked key ends its sessions) and the session's CSRF token.
final class DashboardSessions: Sendable {
    struct Session: Sendable {
        var keyHash: String
        var csrf: String
        var expires: ContinuousClock.Instant
    }

    static let cookie = "keel_session"
    let lifetime: Duration
    private let sessions = Mutex<[String: Session]>([:])

    init(lifetime: Duration = .seconds(8 * 3_600)) {
        self.lifetime = lifetime
    }

    /// A new session of the key whose hash is `keyHash`: its token and CSRF token.
    func open(keyHash: String) -> (token: String, csrf: String) {
        let token = Self.random()
        let csrf = Self.random()
        let now = ContinuousClock.now
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            sessions[token] = Session(keyHash: keyHash, csrf: csrf, expires: now + lifetime)
        }
        return (token, csrf)
    }

    func session(_ token: String) -> Session? {
        sessions.withLock { sessions in
            guard let session = sessions[token], session.expires > ContinuousClock.now else { return nil }
            return session
        }
    }

    func close(_ token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: token) }
    }

    /// The session token of `request`'s cookie, if any.
    static func token(of request: Request) -> String? {
        Dashboard.cookie(cookie, of: request)
    }

    /// 32 random bytes in hex.
    static func random() -> String {
        KeelServer.randomHex(bytes: 32)
    }

    /// Compares two secrets in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
