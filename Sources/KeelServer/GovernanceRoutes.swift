import Foundation
import Hummingbird
import KeelCore
import KeelRuntime

/// Approvals, dead letters, costs and keys of the caller's tenant.
struct GovernanceRoutes: Sendable {
    let store: any ServedStore

    struct Approve: Decodable, Sendable {
        /// Run the call with these arguments instead (a JSON object).
        var arguments: JSONValue?
    }

    struct Deny: Decodable, Sendable {
        var reason: String
    }

    struct NewKey: Decodable, Sendable {
        var name: String
        var role: APIKeyRole
    }

    func add(to group: RouterGroup<ServerContext>) {
        group.get("approvals", use: approvals)
        group.post("approvals/:id/approve") { request, context in
            let body = try await request.decode(as: Approve.self, context: context)
            let decision: ApprovalDecision
            switch body.arguments {
            case nil, .null?: decision = .approve
            case .object?: decision = .approveWithArguments(body.arguments?.serialized() ?? "{}")
            case _?: throw APIError(.badRequest, "invalid_arguments", "edited arguments must be a JSON object")
            }
            return try await decide(request, context, decision)
        }
        group.post("approvals/:id/deny") { request, context in
            let body = try await request.decode(as: Deny.self, context: context)
            guard !body.reason.isEmpty, body.reason.count <= 2_000 else { throw APIError(.badRequest, "invalid_reason", "a reason must be 1 to 2,000 characters") }
            return try await decide(request, context, .deny(reason: body.reason))
        }
        group.get("dead-letters", use: deadLetters)
        group.post("dead-letters/:id/retry") { _, context -> RunView in
            let caller = try context.caller(atLeast: .operator)
            let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: caller, in: store)
            return RunView(try await KeelServer.storing { try await store.reopen(runID: run.id) })
        }
        group.get("costs", use: costs)
        group.get("audit") { request, context in
            let caller = try context.caller(atLeast: .viewer)
            let runID = request.uri.queryParameters.get("run_id")
            if let runID { _ = try await KeelServer.ownRun(runID, of: caller, in: store) }
            let entries = try await KeelServer.storing { try await store.auditLog(runID: runID, tool: nil, limit: nil) }
            // Decisions outside runs are no tenant's.
            let visible = try await KeelServer.owned(entries, by: caller.tenant, in: store) { $0.record.runID }
            return Listing("entries", visible.suffix(500).map(AuditView.init))
        }
        group.get("audit/verify") { _, context -> AuditVerificationView in
            _ = try context.caller(atLeast: .viewer)
            return AuditVerificationView(try await KeelServer.storing { try await store.verifyAuditLog() })
        }
        group.get("keys") { _, context in
            let caller = try context.caller(atLeast: .admin)
            return Listing("keys", try await KeelServer.storing { try await store.keys(tenant: caller.tenant) }.map { KeyView($0) })
        }
        group.post("keys") { request, context -> EditedResponse<KeyView> in
            let caller = try context.caller(atLeast: .admin)
            let body = try await request.decode(as: NewKey.self, context: context)
            let (record, key) = try await KeelServer.storing { try await APIKeys.create(in: store, tenant: caller.tenant, name: body.name, role: body.role) }
            return EditedResponse(status: .created, response: KeyView(record, key: key))
        }
        group.delete("keys/:id") { _, context -> KeyView in
            let caller = try context.caller(atLeast: .admin)
            let id = try context.parameters.require("id")
            guard try await KeelServer.storing({ try await store.keys(tenant: caller.tenant) }).contains(where: { $0.id == id }) else {
                throw APIError.notFound("key '\(id)'")
            }
            // A tenant cannot lock itself out by revoking the key it is using.
            guard id != caller.id else { throw APIError(.conflict, "own_key", "a key cannot revoke itself; revoke it with another admin key") }
            return KeyView(try await KeelServer.storing { try await store.revokeKey(id: id) })
        }
    }

    @Sendable func approvals(_ request: Request, context: ServerContext) async throws -> Listing<ApprovalView> {
        let caller = try context.caller(atLeast: .viewer)
        var status: ApprovalStatus?
        if let text = request.uri.queryParameters.get("status") {
            guard let value = ApprovalStatus(rawValue: text) else {
                throw APIError(.badRequest, "invalid_status", "status must be one of \(ApprovalStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = value
        }
        let runID = request.uri.queryParameters.get("run_id")
        if let runID { _ = try await KeelServer.ownRun(runID, of: caller, in: store) }
        let records = try await KeelServer.storing { try await store.approvals(runID: runID, status: status) }
        return Listing("approvals", try await KeelServer.owned(records, by: caller.tenant, in: store) { $0.request.runID }.map(ApprovalView.init))
    }

    /// Decides one of the caller's tenant's approvals, recorded under the key's name.
    func decide(_ request: Request, _ context: ServerContext, _ decision: ApprovalDecision) async throws -> ApprovalView {
        let caller = try context.caller(atLeast: .operator)
        let id = try await KeelServer.ownApproval(try context.parameters.require("id"), of: caller, in: store).request.id
        return ApprovalView(try await KeelServer.storing { try await store.decideApproval(id: id, decision: decision, by: caller.name) })
    }

    @Sendable func deadLetters(_ request: Request, context: ServerContext) async throws -> Listing<DeadLetterView> {
        let caller = try context.caller(atLeast: .viewer)
        let resolved = request.uri.queryParameters.get("include_resolved") == "true"
        let letters = try await KeelServer.storing { try await store.deadLetters(includeResolved: resolved, limit: 10_000) }
        return Listing("dead_letters", letters.filter { $0.tenant == caller.tenant }.prefix(500).map(DeadLetterView.init))
    }

    @Sendable func costs(_ request: Request, context: ServerContext) async throws -> Listing<CostView> {
        let caller = try context.caller(atLeast: .viewer)
        let by = request.uri.queryParameters.get("by") ?? "model"
        let grouping: CostGrouping
        switch by {
        case "run": grouping = .run
        case "model": grouping = .model
        case "day": grouping = .day
        default: throw APIError(.badRequest, "invalid_grouping", "by must be run, model or day")
        }
        let rows = try await KeelServer.storing { try await store.costs(CostQuery(groupBy: grouping, tenant: caller.tenant)) }
        return Listing("costs", rows.map(CostView.init))
    }
}
