import Foundation
import Hummingbird
import KeelCore
import KeelRuntime
import NIOCore

/// The dashboard at `/`: server-rendered pages of the signed-in key's tenant — runs with their
/// cost, a run's live timeline, approvals to decide, dead letters to retry, spending by day and
/// model, the audit chain's state. Signing in takes an API key and sets an HttpOnly,
/// SameSite=Strict session cookie; every form carries the session's CSRF token.
struct Dashboard: Sendable {
    let store: any ServedStore
    let sessions: DashboardSessions

    /// Who is signed in on a request.
    struct Visitor {
        var key: APIKeyRecord
        var csrf: String
        var token: String
        var header: (name: String, tenant: String, csrf: String) { (key.name, key.tenant, csrf) }
    }

    func add(to router: Router<ServerContext>) {
        router.get("ui/style.css") { _, _ in Self.asset(HTML.style, type: "text/css; charset=utf-8") }
        router.get("ui/run.js") { _, _ in Self.asset(HTML.runScript, type: "text/javascript; charset=utf-8") }
        router.get("login") { _, _ in Self.loginPage(error: nil) }
        router.post("login", use: signIn)
        router.post("logout") { request, context in
            let form = try await Self.form(request, context)
            if let visitor = try await visitor(request), DashboardSessions.same(form["csrf"] ?? "", visitor.csrf) { sessions.close(visitor.token) }
            return Self.redirect("/login", cookie: "\(DashboardSessions.cookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
        }
        router.get("/") { request, _ in try await page(request) { try await runsPage($0) } }
        router.get("runs/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await page(request) { try await runPage($0, id: id) }
        }
        router.get("approvals") { request, _ in try await page(request) { try await approvalsPage($0) } }
        router.get("dead-letters") { request, _ in try await page(request) { try await deadLettersPage($0) } }
        router.get("costs") { request, _ in try await page(request) { try await costsPage($0) } }
        router.post("approvals/:id/decide", use: decide)
        router.post("dead-letters/:id/retry", use: retry)
    }

    // MARK: Signing in

    static func loginPage(error: String?) -> Response {
        let csrf = DashboardSessions.random()
        let body = """
            \(error.map { "<p class=\"error\">\(HTML.escape($0))</p>" } ?? "")
            <form method="post" action="/login" class="card">
            <label>API key <input type="password" name="key" id="key" autocomplete="off" size="80"></label>
            <input type="hidden" name="csrf" value="\(csrf)">
            <button id="sign-in">Sign in</button></form>
            """
        return html(HTML.page("Sign in", signedIn: nil, body), status: error == nil ? .ok : .unauthorized,
            cookie: "keel_login=\(csrf); Path=/login; HttpOnly; SameSite=Strict")
    }

    @Sendable func signIn(_ request: Request, context: ServerContext) async throws -> Response {
        let form = try await Self.form(request, context)
        guard let sent = form["csrf"], let expected = Self.cookie("keel_login", of: request), DashboardSessions.same(sent, expected) else {
            return Self.loginPage(error: "The form expired; sign in again.")
        }
        let presented = (form["key"] ?? "").trimmingCharacters(in: .whitespaces)
        let hash = APIKeys.hash(presented)
        guard presented.hasPrefix("keel_"), presented.count <= 256, let key = try await store.key(hash: hash), key.revokedAt == nil else {
            return Self.loginPage(error: "That key is not valid.")
        }
        let (token, _) = sessions.open(keyHash: key.hash)
        return Self.redirect("/", cookie: "\(DashboardSessions.cookie)=\(token); Path=/; HttpOnly; SameSite=Strict")
    }

    /// The signed-in visitor, if the session is live and its key not revoked.
    func visitor(_ request: Request) async throws -> Visitor? {
        guard let token = DashboardSessions.token(of: request), let session = sessions.session(token),
            let key = try await store.key(hash: session.keyHash), key.revokedAt == nil
        else { return nil }
        return Visitor(key: key, csrf: session.csrf, token: token)
    }

    /// A page for the signed-in visitor; to the sign-in page otherwise.
    func page(_ request: Request, _ body: (Visitor) async throws -> Response) async throws -> Response {
        guard let visitor = try await visitor(request) else { return Self.redirect("/login") }
        return try await KeelServer.storing { try await body(visitor) }
    }

    // MARK: Pages

    func runsPage(_ visitor: Visitor) async throws -> Response {
        let runs = try await store.listRuns(RunQuery(tenant: visitor.key.tenant, limit: 100))
        let costs = Dictionary(
            try await store.costs(CostQuery(groupBy: .run, tenant: visitor.key.tenant)).map { ($0.key, $0.costUSD) }, uniquingKeysWith: { first, _ in first })
        let rows = runs.map { run in
            """
            <tr><td><a href="/runs/\(HTML.escape(run.id))">\(HTML.escape(run.id))</a></td><td>\(HTML.escape(run.workflow))</td>
            <td class="status-\(run.status.rawValue)">\(run.status.rawValue)</td><td>\(HTML.time(run.createdAt))</td><td>\(HTML.money(costs[run.id] ?? 0))</td></tr>
            """
        }.joined()
        let body = "<table id=\"runs\"><thead><tr><th>Run</th><th>Workflow</th><th>Status</th><th>Started</th><th>Cost</th></tr></thead><tbody>\(rows)</tbody></table>"
        return Self.html(HTML.page("Runs", signedIn: visitor.header, body))
    }

    func runPage(_ visitor: Visitor, id: String) async throws -> Response {
        guard let run = try await store.run(id: id), run.tenant == visitor.key.tenant else {
            return Self.html(HTML.page("Not found", signedIn: visitor.header, "<p>No run '\(HTML.escape(id))'.</p>"), status: .notFound)
        }
        let journal = try await store.journal(runID: run.id).sorted { ($0.startedAt, $0.address) < ($1.startedAt, $1.address) }
        let rows = journal.map { entry -> String in
            let step = StepView(entry)
            let tokens = step.usage.map { "\($0.inputTokens) / \($0.outputTokens)" } ?? ""
            return """
                <tr id="step-\(HTML.escape(step.address))"><td>\(HTML.escape(step.address))</td><td>\(HTML.escape(step.name))</td><td>\(HTML.escape(step.kind))</td>
                <td>\(step.status)</td><td>\(tokens)</td><td>\(step.costUSD.map(HTML.money) ?? "")</td><td>\(step.durationMS.map { "\($0) ms" } ?? "")</td></tr>
                """
        }.joined()
        let approvals = try await store.approvals(runID: run.id, status: nil).filter { $0.status == .pending || $0.status == .escalated }
        let answer = (try? run.output?.decode(as: AgentRunResult.self))?.answer
        let body = """
            <p>Status: <strong id="status" class="status-\(run.status.rawValue)">\(run.status.rawValue)</strong> · workflow \(HTML.escape(run.workflow))
            · started \(HTML.time(run.createdAt))</p>
            \(answer.map { "<p id=\"answer\">Answer: \(HTML.escape($0))</p>" } ?? "")
            \(approvals.map { approvalCard($0, visitor, back: "/runs/\(run.id)") }.joined())
            <h2>Timeline</h2>
            <table id="steps" data-run="\(HTML.escape(run.id))"><thead><tr><th>Step</th><th>Name</th><th>Kind</th><th>Status</th><th>Tokens in / out</th><th>Cost</th><th>Latency</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            """
        return Self.html(HTML.page("Run \(run.id)", signedIn: visitor.header, body, script: "/ui/run.js"))
    }

    func approvalCard(_ record: ApprovalRecord, _ visitor: Visitor, back: String) -> String {
        let id = HTML.escape(record.request.id)
        let canDecide = visitor.key.role >= .operator
        let forms = canDecide ? """
            <form method="post" action="/approvals/\(id)/decide" class="inline"><input type="hidden" name="csrf" value="\(visitor.csrf)">
            <input type="hidden" name="back" value="\(HTML.escape(back))"><input type="hidden" name="action" value="approve">
            <textarea name="arguments" aria-label="arguments">\(HTML.escape(record.request.arguments))</textarea>
            <button class="approve" data-approval="\(id)">Approve</button></form>
            <form method="post" action="/approvals/\(id)/decide" class="inline"><input type="hidden" name="csrf" value="\(visitor.csrf)">
            <input type="hidden" name="back" value="\(HTML.escape(back))"><input type="hidden" name="action" value="deny">
            <input name="reason" placeholder="reason" aria-label="reason"><button class="deny">Deny</button></form>
            """ : "<p>A viewer's key cannot decide.</p>"
        return """
            <div class="card approval" id="approval-\(id)"><p><strong>\(HTML.escape(record.request.tool))</strong> in run
            <a href="/runs/\(HTML.escape(record.request.runID))">\(HTML.escape(record.request.runID))</a> waits: \(HTML.escape(record.request.reason))</p>
            <p>Arguments: <code>\(HTML.escape(record.request.arguments))</code></p>\(forms)</div>
            """
    }

    func approvalsPage(_ visitor: Visitor) async throws -> Response {
        let waiting = try await store.approvals(runID: nil, status: nil).filter { $0.status == .pending || $0.status == .escalated }
        let cards = try await KeelServer.owned(waiting, by: visitor.key.tenant, in: store) { $0.request.runID }.map { approvalCard($0, visitor, back: "/approvals") }
        return Self.html(HTML.page("Approvals", signedIn: visitor.header, cards.isEmpty ? "<p>Nothing waits for a decision.</p>" : cards.joined()))
    }

    func deadLettersPage(_ visitor: Visitor) async throws -> Response {
        let letters = try await store.deadLetters(includeResolved: false, limit: 10_000).filter { $0.tenant == visitor.key.tenant }.prefix(500)
        let rows = letters.map { letter in
            """
            <tr><td><a href="/runs/\(HTML.escape(letter.runID))">\(HTML.escape(letter.runID))</a></td><td>\(HTML.escape(letter.failure.description))</td>
            <td>\(HTML.time(letter.createdAt))</td><td>\(visitor.key.role >= .operator ? """
            <form method="post" action="/dead-letters/\(HTML.escape(letter.runID))/retry"><input type="hidden" name="csrf" value="\(visitor.csrf)"><button>Retry</button></form>
            """ : "")</td></tr>
            """
        }.joined()
        let body = letters.isEmpty ? "<p>No dead letters.</p>" : "<table><thead><tr><th>Run</th><th>Failure</th><th>Since</th><th></th></tr></thead><tbody>\(rows)</tbody></table>"
        return Self.html(HTML.page("Dead letters", signedIn: visitor.header, body))
    }

    func costsPage(_ visitor: Visitor) async throws -> Response {
        let tenant = visitor.key.tenant
        let byDay = try await store.costs(CostQuery(groupBy: .day, tenant: tenant)).sorted { $0.key < $1.key }.suffix(31)
        let byModel = try await store.costs(CostQuery(groupBy: .model, tenant: tenant)).prefix(20)
        let audit = try await store.verifyAuditLog()
        let body = """
            <h2>Cost per day</h2>\(HTML.bars(byDay.map { ($0.key, $0.costUSD) }, title: "cost per day"))
            <h2>Cost per model</h2>\(HTML.bars(byModel.map { ($0.key, $0.costUSD) }, title: "cost per model"))
            <h2>Audit log</h2><p id="audit">\(audit.isIntact ? "The chain is intact." : "The chain is broken at entry \(audit.firstBrokenSequence ?? 0): \(HTML.escape(audit.problem ?? ""))")</p>
            """
        return Self.html(HTML.page("Costs", signedIn: visitor.header, body))
    }

    // MARK: Forms

    /// A form's change: signed in, the session's CSRF token, a role of operator.
    func authorized(_ request: Request, _ context: ServerContext) async throws -> (Visitor, [String: String])? {
        let form = try await Self.form(request, context)
        guard let visitor = try await visitor(request) else { return nil }
        guard DashboardSessions.same(form["csrf"] ?? "", visitor.csrf) else { throw APIError(.forbidden, "csrf", "the form's CSRF token is missing or wrong") }
        guard visitor.key.role >= .operator else { throw APIError.forbidden(.operator) }
        return (visitor, form)
    }

    @Sendable func decide(_ request: Request, context: ServerContext) async throws -> Response {
        guard let (visitor, form) = try await authorized(request, context) else { return Self.redirect("/login") }
        let record = try await KeelServer.ownApproval(try context.parameters.require("id"), of: visitor.key, in: store)
        let id = record.request.id
        let decision: ApprovalDecision
        switch form["action"] {
        case "approve":
            let edited = (form["arguments"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            decision = edited.isEmpty || edited == record.request.arguments ? .approve : .approveWithArguments(edited)
        case "deny":
            let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            decision = .deny(reason: reason.isEmpty ? "denied on the dashboard" : String(reason.prefix(2_000)))
        default:
            throw APIError(.badRequest, "invalid_action", "action must be approve or deny")
        }
        _ = try await KeelServer.storing { try await store.decideApproval(id: id, decision: decision, by: visitor.key.name) }
        let back = form["back"].flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") ? $0 : nil } ?? "/approvals"
        return Self.redirect(back)
    }

    @Sendable func retry(_ request: Request, context: ServerContext) async throws -> Response {
        guard let (visitor, _) = try await authorized(request, context) else { return Self.redirect("/login") }
        let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: visitor.key, in: store)
        _ = try await KeelServer.storing { try await store.reopen(runID: run.id) }
        return Self.redirect("/runs/\(run.id)")
    }

    // MARK: HTTP

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        .init("X-Content-Type-Options")!: "nosniff", .init("Referrer-Policy")!: "no-referrer", .cacheControl: "no-store",
    ]

    static func html(_ text: String, status: HTTPResponse.Status = .ok, cookie: String? = nil) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    static func cookie(_ name: String, of request: Request) -> String? {
        guard let header = request.headers[.cookie] else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == name { return String(pair[1]) }
        }
        return nil
    }

    /// An `application/x-www-form-urlencoded` body's fields (the last of a repeated name wins).
    static func form(_ request: Request, _ context: ServerContext) async throws -> [String: String] {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }
}
