import Crypto
import Foundation
import Hummingbird
import KeelApp
import KeelCore
import KeelRuntime

/// `/v1/runs`: list, start, show, cancel, resume and signal the caller's tenant's runs.
struct RunRoutes: Sendable {
    let store: any RunStore

    /// What `POST /v1/runs` takes.
    struct StartRun: Decodable, Sendable {
        /// `agent` or `report` (the demo's pipeline).
        var workflow: String
        /// The workflow's input, as `keel submit` would make it.
        var input: JSONValue
    }

    struct Signal: Decodable, Sendable {
        var payload: JSONValue?
    }

    func add(to group: RouterGroup<ServerContext>) {
        group.get("runs", use: list)
        group.post("runs", use: start)
        group.get("runs/:id", use: show)
        group.post("runs/:id/cancel") { request, context in
            try await change(request, context) { try await store.cancel(runID: $0.id) }
        }
        group.post("runs/:id/resume") { request, context in
            try await change(request, context) { try await store.reopen(runID: $0.id) }
        }
        group.post("runs/:id/signals/:name", use: signal)
        group.post("runs/:id/fork", use: fork)
    }

    /// What `POST /v1/runs/{id}/fork` takes: the position to fork at.
    struct Fork: Decodable, Sendable {
        var at: Int
    }

    @Sendable func fork(_ request: Request, context: ServerContext) async throws -> EditedResponse<RunView> {
        let caller = try context.caller(atLeast: .operator)
        let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: caller, in: store)
        let body = try await request.decode(as: Fork.self, context: context)
        guard body.at >= 0 else { throw APIError(.badRequest, "invalid_position", "at must be a step's position, 0 or more") }
        let newID = KeelServer.newRunID()
        let forked = try await KeelServer.storing { try await store.fork(runID: run.id, atSequence: body.at, newRunID: newID) }
        return EditedResponse(status: .created, response: RunView(forked))
    }

    @Sendable func list(_ request: Request, context: ServerContext) async throws -> RunPage {
        let caller = try context.caller(atLeast: .viewer)
        let parameters = request.uri.queryParameters
        var query = RunQuery(tenant: caller.tenant, limit: 50)
        if let limit = parameters.get("limit") {
            guard let value = Int(limit), (1...500).contains(value) else { throw APIError(.badRequest, "invalid_limit", "limit must be from 1 to 500") }
            query.limit = value
        }
        if let status = parameters.get("status") {
            guard let value = RunStatus(rawValue: status) else {
                throw APIError(.badRequest, "invalid_status", "status must be one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.statuses = [value]
        }
        query.workflow = parameters.get("workflow")
        if let cursor = parameters.get("cursor") {
            guard let value = RunCursor(token: cursor) else { throw APIError(.badRequest, "invalid_cursor", "the cursor is not one this API gave") }
            query.after = value
        }
        let runs = try await KeelServer.storing { try await store.listRuns(query) }
        return RunPage(runs: runs.map(RunView.init), nextCursor: runs.count == query.limit ? runs.last.map { RunCursor($0).token } : nil)
    }

    @Sendable func start(_ request: Request, context: ServerContext) async throws -> EditedResponse<RunView> {
        let caller = try context.caller(atLeast: .operator)
        let body = try await request.decode(as: StartRun.self, context: context)
        let input = try Self.input(of: body.workflow, body.input, tenant: caller.tenant)
        let runID: String
        if let key = request.headers[.init("Idempotency-Key")!] {
            guard !key.isEmpty, key.count <= 128 else { throw APIError(.badRequest, "invalid_idempotency_key", "an Idempotency-Key must be 1 to 128 characters") }
            // Scoped by tenant: the same key from two tenants makes two runs, and neither learns
            // of the other's.
            runID = "run_" + SHA256.hash(data: Data("\(caller.tenant)\u{0}\(key)".utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        } else {
            runID = KeelServer.newRunID()
        }
        let (record, created) = try await KeelServer.storing {
            try await store.createRun(NewRun(id: runID, workflow: body.workflow, input: input, tenant: caller.tenant))
        }
        return EditedResponse(status: created ? .created : .ok, response: RunView(record))
    }

    /// The input checked against the workflow's, its spending held to the caller's tenant.
    static func input(of workflow: String, _ input: JSONValue, tenant: String) throws -> JSONValue {
        do {
            switch workflow {
            case "agent":
                var agent = try KeelServer.agentInput(input)
                var controls = agent.controls ?? ControlSettings()
                controls.tenant = tenant
                agent.controls = controls
                return try JSONValue(encoding: agent)
            case "report":
                var report = try input.decode(as: ReportWorkflow.Input.self)
                var controls = report.controls ?? ControlSettings()
                controls.tenant = tenant
                report.controls = controls
                return try JSONValue(encoding: report)
            default:
                throw APIError(.badRequest, "unknown_workflow", "workflow must be 'agent' or 'report', not '\(workflow.prefix(64))'")
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.badRequest, "invalid_input", "the input is not one of a '\(workflow)' run: \(error)")
        }
    }

    @Sendable func show(_ request: Request, context: ServerContext) async throws -> RunDetailView {
        let caller = try context.caller(atLeast: .viewer)
        let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: caller, in: store)
        let journal = try await KeelServer.storing { try await store.journal(runID: run.id) }
        let metered = journal.filter { $0.status == .completed }.compactMap(\.metering)
        return RunDetailView(
            run: RunView(run), input: run.input, output: run.output, steps: journal.sorted { ($0.startedAt, $0.address) < ($1.startedAt, $1.address) }.map(StepView.init),
            usage: UsageView(metered.map(\.usage).reduce(Usage(), +)), costUSD: metered.compactMap(\.costUSD).reduce(0, +))
    }

    @Sendable func signal(_ request: Request, context: ServerContext) async throws -> RunView {
        let caller = try context.caller(atLeast: .operator)
        let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: caller, in: store)
        let name = try context.parameters.require("name")
        let body = try await request.decode(as: Signal.self, context: context)
        try await KeelServer.storing { try await store.signal(runID: run.id, name: name, payload: body.payload ?? .null) }
        return RunView(try await KeelServer.ownRun(run.id, of: caller, in: store))
    }

    /// Changes one of the caller's runs (an operator's) and answers with it.
    func change(_ request: Request, _ context: ServerContext, _ body: (RunRecord) async throws -> RunRecord) async throws -> RunView {
        let caller = try context.caller(atLeast: .operator)
        let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: caller, in: store)
        return RunView(try await KeelServer.storing { try await body(run) })
    }
}
