import Foundation
import KeelCore
import KeelRuntime
import KeelServer
import KeelTestSupport
import NIOHTTP1
import Testing

/// The dashboard's sign-in, CSRF tokens and tenant isolation, over a real socket.
@Suite(.timeLimit(.minutes(2))) struct DashboardTests {
    /// Signs in with `key`: the session cookie and the session's CSRF token (read off a form).
    static func signIn(_ server: LiveServer, key: String) async throws -> (cookie: String, csrf: String) {
        let login = try await server.request(.GET, "/login")
        let loginCookie = try #require(login.headers["Set-Cookie"].first?.split(separator: ";").first.map(String.init))
        let csrf = try #require(Self.csrf(in: login.body))
        let signedIn = try await server.request(
            .POST, "/login", headers: [("Cookie", loginCookie), ("Content-Type", "application/x-www-form-urlencoded")], form: "key=\(key)&csrf=\(csrf)")
        #expect(signedIn.status == 303 && signedIn.headers["Location"].first == "/", "\(signedIn)")
        let setCookie = try #require(signedIn.headers["Set-Cookie"].first)
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))
        let page = try await server.request(.GET, "/approvals", headers: [("Cookie", cookie)])
        return (cookie, try #require(Self.csrf(in: page.body), "\(page.body)"))
    }

    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value="([0-9a-f]{64})""#, options: .regularExpression) else { return nil }
        return String(html[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
    }

    @Test func pagesAndFormsReachOnlyTheSessionsTenantAndNeedItsToken() async throws {
        let (store, keys) = try await TenantIsolationTests.populatedStore()
        try await LiveServer.with(KeelServer(store: store)) { server in
            let anonymous = try await server.request(.GET, "/")
            #expect(anonymous.status == 303 && anonymous.headers["Location"].first == "/login")
            let wrong = try await server.request(.POST, "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")], form: "key=\(keys.acmeOperator)&csrf=x")
            #expect(wrong.status == 401 && wrong.headers["Set-Cookie"].first?.hasPrefix("keel_session") != true, "no session without the login form's token")

            let (cookie, csrf) = try await Self.signIn(server, key: keys.acmeOperator)
            let runs = try await server.request(.GET, "/", headers: [("Cookie", cookie)])
            #expect(runs.status == 200 && runs.body.contains("acme-waiting") && !runs.body.contains("globex"), "\(runs.body.prefix(2_000))")
            #expect(runs.headers["Content-Security-Policy"].first?.contains("script-src 'self'") == true)
            #expect(try await server.request(.GET, "/runs/globex-waiting", headers: [("Cookie", cookie)]).status == 404)
            #expect(try await server.request(.GET, "/approvals", headers: [("Cookie", cookie)]).body.contains("globex") == false)
            let form = [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")]
            let other = try await server.request(.POST, "/approvals/globex-waiting:1/decide", headers: form, form: "csrf=\(csrf)&action=approve")
            #expect(other.status == 404, "\(other)")
            let noToken = try await server.request(.POST, "/approvals/acme-waiting:1/decide", headers: form, form: "action=approve")
            #expect(noToken.status == 403, "\(noToken)")
            // The live events of the session's runs, by cookie; a change by cookie needs the token.
            #expect(try await server.request(.GET, "/v1/runs/acme-waiting", headers: [("Cookie", cookie)]).status == 200)
            #expect(try await server.request(.POST, "/v1/runs/acme-waiting/cancel", headers: [("Cookie", cookie)]).status == 403)
            #expect(try await store.approval(id: "acme-waiting:1")?.status == .pending)
            #expect(try await store.approval(id: "globex-waiting:1")?.status == .pending)

            let denied = try await server.request(.POST, "/approvals/acme-waiting:1/decide", headers: form, form: "csrf=\(csrf)&action=deny&reason=too+much&back=/approvals")
            #expect(denied.status == 303 && denied.headers["Location"].first == "/approvals", "\(denied)")
            let record = try await store.approval(id: "acme-waiting:1")
            #expect(record?.status == .denied && record?.decidedBy == "acme-ops" && record?.decision == .deny(reason: "too much"))

            // A viewer's session reads but cannot decide.
            let viewer = try await Self.signIn(server, key: keys.acmeViewer)
            let refused = try await server.request(
                .POST, "/dead-letters/acme-failed/retry", headers: [("Cookie", viewer.cookie), ("Content-Type", "application/x-www-form-urlencoded")],
                form: "csrf=\(viewer.csrf)")
            #expect(refused.status == 403)
            // Signing out ends the session.
            _ = try await server.request(.POST, "/logout", headers: form, form: "csrf=\(csrf)")
            #expect(try await server.request(.GET, "/", headers: [("Cookie", cookie)]).status == 303)
        }
    }
}
