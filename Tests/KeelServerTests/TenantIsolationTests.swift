import Foundation
import KeelCore
import NIOHTTP1
import KeelRuntime
import KeelServer
import KeelSQLite
import KeelTestSupport
import Testing

/// Two tenants on one server: every endpoint tried with the other tenant's ids reads, changes and
/// confirms nothing; no key is 401; a viewer cannot decide.
@Suite(.timeLimit(.minutes(3))) struct TenantIsolationTests {
    struct Keys {
        var acmeOperator = ""
        var acmeViewer = ""
        var acmeAdmin = ""
        var globexOperator = ""
        var globexAdmin = ""
    }

    /// A store with, for each of `acme` and `globex`: a run waiting for an approval, and a failed
    /// run (a dead letter) with one metered step.
    static func populatedStore() async throws -> (SQLiteRunStore, Keys) {
        let store = try SQLiteRunStore(path: TemporaryFolder.make("keel-server").appendingPathComponent("keel.db").path)
        let owner = RunOwner(id: "test/1/a")
        for tenant in ["acme", "globex"] {
            _ = try await store.createRun(NewRun(id: "\(tenant)-waiting", workflow: "agent", input: ["prompt": "pay"], tenant: tenant))
            guard case .claimed(let lease, _) = try await store.claim(runID: "\(tenant)-waiting", owner: owner, leaseDuration: .seconds(30)) else {
                throw CancellationError()
            }
            let request = ApprovalRequest(id: "\(tenant)-waiting:1", kind: .toolCall, runID: "\(tenant)-waiting", sequence: 1, tool: "pay", arguments: #"{"cents":5}"#, reason: "money")
            _ = try await store.requestApproval(request, lease: lease)
            try await store.suspend(lease, wakeAt: nil, waitingFor: [ApprovalRecord.signalName(for: request.id)])

            _ = try await store.createRun(NewRun(id: "\(tenant)-failed", workflow: "agent", input: ["prompt": "x"], tenant: tenant))
            guard case .claimed(let failing, _) = try await store.claim(runID: "\(tenant)-failed", owner: owner, leaseDuration: .seconds(30)) else {
                throw CancellationError()
            }
            var step = JournalEntry(runID: "\(tenant)-failed", sequence: 0, name: "model", kind: .model, status: .completed, result: "r", startedAt: Date(), completedAt: Date())
            step.metering = StepMetering(model: "openai:\(tenant)-model", usage: Usage(inputTokens: 100, outputTokens: 10), costUSD: 0.25)
            try await store.append(step, lease: failing)
            try await store.finish(failing, status: .failed, output: nil, failure: RunFailure(code: "server", message: "down", sequence: 1))
        }
        var keys = Keys()
        keys.acmeOperator = try await APIKeys.create(in: store, tenant: "acme", name: "acme-ops", role: .operator).key
        keys.acmeViewer = try await APIKeys.create(in: store, tenant: "acme", name: "acme-dash", role: .viewer).key
        keys.acmeAdmin = try await APIKeys.create(in: store, tenant: "acme", name: "acme-admin", role: .admin).key
        keys.globexOperator = try await APIKeys.create(in: store, tenant: "globex", name: "globex-ops", role: .operator).key
        keys.globexAdmin = try await APIKeys.create(in: store, tenant: "globex", name: "globex-admin", role: .admin).key
        return (store, keys)
    }

    @Test func anotherTenantsIdsReadChangeAndConfirmNothing() async throws {
        let (store, keys) = try await Self.populatedStore()
        try await LiveServer.with(KeelServer(store: store)) { server in
            let globexKeyID = try #require(try await store.keys(tenant: "globex").first?.id)
            // Every endpoint that takes an id, with globex's ids and acme's keys: the same 404 as
            // for an id that does not exist.
            let attempts: [(HTTPMethod, String, String?)] = [
                (.GET, "/v1/runs/globex-waiting", nil),
                (.GET, "/v1/runs/globex-waiting/events", nil),
                (.POST, "/v1/runs/globex-waiting/cancel", nil),
                (.POST, "/v1/runs/globex-failed/resume", nil),
                (.POST, "/v1/runs/globex-waiting/signals/go", #"{"payload":1}"#),
                (.GET, "/v1/approvals?run_id=globex-waiting", nil),
                (.POST, "/v1/approvals/globex-waiting:1/approve", "{}"),
                (.POST, "/v1/approvals/globex-waiting:1/deny", #"{"reason":"no"}"#),
                (.POST, "/v1/dead-letters/globex-failed/retry", nil),
                (.POST, "/v1/runs/globex-failed/fork", #"{"at":1}"#),
                (.GET, "/v1/audit?run_id=globex-waiting", nil),
                (.DELETE, "/v1/keys/\(globexKeyID)", nil),
            ]
            for (method, path, body) in attempts {
                let key = path.hasPrefix("/v1/keys") ? keys.acmeAdmin : keys.acmeOperator
                let other = try await server.request(method, path, key: key, json: body)
                let missing = try await server.request(method, path.replacingOccurrences(of: "globex-", with: "nobody-").replacingOccurrences(of: globexKeyID, with: "key_000000000000"), key: key, json: body)
                #expect(other.status == 404, "\(method) \(path): \(other)")
                #expect(other.body.replacingOccurrences(of: "globex-", with: "nobody-").replacingOccurrences(of: globexKeyID, with: "key_000000000000") == missing.body,
                    "\(method) \(path) must answer as for a missing id: \(other) vs \(missing)")
            }
            // Lists hold only acme's.
            let runs = try await server.request(.GET, "/v1/runs", key: keys.acmeViewer)
            #expect(runs.json?["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue }.sorted() == ["acme-failed", "acme-waiting"], "\(runs)")
            let approvals = try await server.request(.GET, "/v1/approvals", key: keys.acmeViewer)
            #expect(approvals.json?["approvals"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["acme-waiting:1"], "\(approvals)")
            let letters = try await server.request(.GET, "/v1/dead-letters", key: keys.acmeViewer)
            #expect(letters.json?["dead_letters"]?.arrayValue?.compactMap { $0["run_id"]?.stringValue } == ["acme-failed"], "\(letters)")
            let costs = try await server.request(.GET, "/v1/costs?by=model", key: keys.acmeViewer)
            #expect(costs.json?["costs"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["openai:acme-model"], "\(costs)")
            #expect(costs.json?["costs"]?[0]?["cost_usd"]?.doubleValue == 0.25)
            let keyList = try await server.request(.GET, "/v1/keys", key: keys.acmeAdmin)
            #expect(keyList.json?["keys"]?.arrayValue?.allSatisfy { $0["tenant"]?.stringValue == "acme" && $0["key"] == nil } == true, "\(keyList)")
            #expect(keyList.json?["keys"]?.arrayValue?.count == 3)

            // A fork of one's own run is one's own.
            let fork = try await server.request(.POST, "/v1/runs/acme-failed/fork", key: keys.acmeOperator, json: #"{"at":1}"#)
            #expect(fork.status == 201 && fork.json?["tenant"] == "acme" && fork.json?["parent_run_id"] == "acme-failed", "\(fork)")
            #expect(try await server.request(.GET, "/v1/audit/verify", key: keys.acmeViewer).json?["intact"] == true)

            // Nothing of globex's changed.
            #expect(try await store.run(id: "globex-waiting")?.status == .waiting)
            #expect(try await store.run(id: "globex-failed")?.status == .failed)
            #expect(try await store.approval(id: "globex-waiting:1")?.status == .pending)
            #expect(try await store.keys(tenant: "globex").allSatisfy { $0.revokedAt == nil })
            #expect(try await store.listRuns(RunQuery(tenant: "globex")).count == 2, "no fork was made of globex's run")
            // And globex sees its own.
            let own = try await server.request(.GET, "/v1/runs/globex-waiting", key: keys.globexOperator)
            #expect(own.status == 200 && own.json?["run"]?["status"] == "waiting", "\(own)")
        }
    }

    @Test func noKeyABadKeyOrARevokedKeyIs401AndAViewerCannotDecide() async throws {
        let (store, keys) = try await Self.populatedStore()
        try await LiveServer.with(KeelServer(store: store)) { server in
            for path in ["/v1/runs", "/v1/runs/acme-waiting", "/v1/approvals", "/v1/dead-letters", "/v1/costs", "/v1/keys"] {
                let none = try await server.request(.GET, path)
                #expect(none.status == 401 && none.json?["error"]?["code"] == "unauthorized", "\(path): \(none)")
                #expect(none.headers["WWW-Authenticate"].first == "Bearer")
                #expect(try await server.request(.GET, path, key: "keel_000000000000_" + String(repeating: "0", count: 64)).status == 401)
                #expect(try await server.request(.GET, path, key: "not-a-key").status == 401)
            }
            #expect(try await server.request(.POST, "/v1/approvals/acme-waiting:1/approve", json: "{}").status == 401)
            #expect(try await server.request(.GET, "/healthz").status == 200)

            // A viewer reads but cannot decide, start, cancel, retry or manage keys.
            #expect(try await server.request(.GET, "/v1/runs/acme-waiting", key: keys.acmeViewer).status == 200)
            for (method, path, body) in [
                (HTTPMethod.POST, "/v1/approvals/acme-waiting:1/approve", "{}"), (.POST, "/v1/approvals/acme-waiting:1/deny", #"{"reason":"no"}"#),
                (.POST, "/v1/runs/acme-waiting/cancel", nil), (.POST, "/v1/dead-letters/acme-failed/retry", nil),
                (.POST, "/v1/runs", #"{"workflow":"agent","input":{}}"#), (.GET, "/v1/keys", nil),
            ] as [(HTTPMethod, String, String?)] {
                let answer = try await server.request(method, path, key: keys.acmeViewer, json: body)
                #expect(answer.status == 403 && answer.json?["error"]?["code"] == "forbidden", "\(method) \(path): \(answer)")
            }
            #expect(try await store.approval(id: "acme-waiting:1")?.status == .pending)

            // An operator decides, under the key's name; the run wakes.
            let approved = try await server.request(.POST, "/v1/approvals/acme-waiting:1/approve", key: keys.acmeOperator, json: #"{"arguments":{"cents":4}}"#)
            #expect(approved.status == 200 && approved.json?["decided_by"] == "acme-ops" && approved.json?["status"] == "approved", "\(approved)")
            #expect(try await store.approval(id: "acme-waiting:1")?.decision == .approveWithArguments(#"{"cents":4}"#))
            #expect(try await store.run(id: "acme-waiting")?.status == .pending)
            let audit = try await server.request(.GET, "/v1/audit", key: keys.acmeViewer)
            #expect(audit.json?["entries"]?.arrayValue?.contains { $0["actor"] == "acme-ops" && $0["action"] == "approval" } == true, "\(audit)")
            #expect(try await server.request(.GET, "/v1/audit", key: keys.globexOperator).json?["entries"]?.arrayValue?.isEmpty == true)
            let again = try await server.request(.POST, "/v1/approvals/acme-waiting:1/deny", key: keys.acmeOperator, json: #"{"reason":"late"}"#)
            #expect(again.status == 409, "a second decision is refused: \(again)")

            // A revoked key is refused from then on.
            let acmeOps = try #require(try await store.keys(tenant: "acme").first { $0.name == "acme-ops" })
            let revoked = try await server.request(.DELETE, "/v1/keys/\(acmeOps.id)", key: keys.acmeAdmin)
            #expect(revoked.status == 200 && revoked.json?["revoked_at"] != nil, "\(revoked)")
            #expect(try await server.request(.GET, "/v1/runs", key: keys.acmeOperator).status == 401)
        }
    }

    @Test func runsStartIdempotentlyPerTenantAndPageWithACursor() async throws {
        let (store, keys) = try await Self.populatedStore()
        try await LiveServer.with(KeelServer(store: store)) { server in
            let input = #"{"workflow":"agent","input":{"prompt":"What is 6 times 7?","toolsets":["calculator"],"model":{"spec":"arithmetic"},"controls":{"tenant":"globex"}}}"#
            let first = try await server.request(.POST, "/v1/runs", key: keys.acmeOperator, json: input, headers: [("Idempotency-Key", "order-17")])
            let second = try await server.request(.POST, "/v1/runs", key: keys.acmeOperator, json: input, headers: [("Idempotency-Key", "order-17")])
            let globex = try await server.request(.POST, "/v1/runs", key: keys.globexOperator, json: input, headers: [("Idempotency-Key", "order-17")])
            #expect(first.status == 201 && second.status == 200, "\(first) \(second)")
            let id = try #require(first.json?["id"]?.stringValue)
            #expect(second.json?["id"]?.stringValue == id)
            #expect(globex.status == 201 && globex.json?["id"]?.stringValue != id, "the same key in another tenant is another run: \(globex)")
            // The run spends as its key's tenant, whatever its input says.
            let run = try #require(try await store.run(id: id))
            #expect(run.tenant == "acme" && run.input["controls"]?["tenant"] == "acme")

            for bad in [#"{"workflow":"agent","input":{"prompt":1}}"#, #"{"workflow":"nope","input":{}}"#, "not json", #"{"input":{}}"#] {
                let answer = try await server.request(.POST, "/v1/runs", key: keys.acmeOperator, json: bad)
                #expect(answer.status == 400, "\(bad): \(answer)")
            }
            let huge = try await server.request(.POST, "/v1/runs", key: keys.acmeOperator, json: #"{"workflow":"agent","input":{"prompt":""# + String(repeating: "a", count: 300_000) + "\"}}")
            #expect(huge.status == 413, "a body over the limit: \(huge.status)")

            // Four acme runs now, two a page.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await server.request(.GET, "/v1/runs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), key: keys.acmeViewer)
                seen += page.json?["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                cursor = page.json?["next_cursor"]?.stringValue
            } while cursor != nil && seen.count < 10
            #expect(seen.count == Set(seen).count && Set(seen) == ["acme-waiting", "acme-failed", id], "\(seen)")
            #expect(try await server.request(.GET, "/v1/runs?cursor=garbage", key: keys.acmeViewer).status == 400)
            #expect(try await server.request(.GET, "/v1/runs?status=bogus", key: keys.acmeViewer).status == 400)
            #expect(try await server.request(.GET, "/v1/runs?status=waiting", key: keys.acmeViewer).json?["runs"]?.arrayValue?.count == 1)
        }
    }

    @Test func eachKeyIsHeldToItsRate() async throws {
        let (store, keys) = try await Self.populatedStore()
        try await LiveServer.with(KeelServer(store: store, configuration: .init(requestsPerSecond: 1, burst: 3))) { server in
            // A burst of three passes; then, at one request a second, a 429 comes long before
            // fifty requests have been sent, however slow the machine.
            var statuses: [Int] = []
            var limited: LoopbackHTTP.Answer?
            while limited == nil, statuses.count < 50 {
                let answer = try await server.request(.GET, "/v1/runs", key: keys.acmeViewer)
                statuses.append(answer.status)
                if answer.status == 429 { limited = answer }
            }
            #expect(statuses.prefix(3).allSatisfy { $0 == 200 }, "\(statuses)")
            let refusal = try #require(limited, "no 429 in \(statuses)")
            #expect(refusal.headers["Retry-After"].first.flatMap(Int.init) ?? 0 >= 1, "\(refusal.headers)")
            #expect(refusal.json?["error"]?["code"] == "rate_limited")
            // Another key has its own bucket.
            #expect(try await server.request(.GET, "/v1/runs", key: keys.globexOperator).status == 200)
        }
    }
}
