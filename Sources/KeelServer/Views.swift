import Foundation
import Hummingbird
import KeelCore
import KeelRuntime

// What the API answers with: JSON in snake_case, dates in ISO 8601.

/// Tokens, as the API shows them.
struct UsageView: Codable, Sendable {
    var inputTokens: Int
    var cachedInputTokens: Int
    var outputTokens: Int
    var reasoningTokens: Int
    var cacheWriteInputTokens: Int
    var estimated: Bool

    init(_ usage: Usage) {
        inputTokens = usage.inputTokens
        cachedInputTokens = usage.cachedInputTokens
        outputTokens = usage.outputTokens
        reasoningTokens = usage.reasoningTokens
        cacheWriteInputTokens = usage.cacheWriteInputTokens
        estimated = usage.isEstimated
    }

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens", cachedInputTokens = "cached_input_tokens", outputTokens = "output_tokens"
        case reasoningTokens = "reasoning_tokens", cacheWriteInputTokens = "cache_write_input_tokens", estimated
    }
}

struct FailureView: Codable, Sendable {
    var code: String
    var message: String
    var step: String?

    init(_ failure: RunFailure) {
        code = failure.code
        message = failure.message
        step = failure.step
    }
}

/// A run in a list.
struct RunView: ResponseCodable, Sendable {
    var id: String
    var workflow: String
    var status: String
    var tenant: String?
    var createdAt: Date
    var updatedAt: Date
    var waitingFor: [String]
    var failure: FailureView?
    var parentRunID: String?

    init(_ run: RunRecord) {
        id = run.id
        workflow = run.workflow
        status = run.status.rawValue
        tenant = run.tenant
        createdAt = run.createdAt
        updatedAt = run.updatedAt
        waitingFor = run.waitingFor
        failure = run.failure.map(FailureView.init)
        parentRunID = run.parentRunID
    }

    enum CodingKeys: String, CodingKey {
        case id, workflow, status, tenant, createdAt = "created_at", updatedAt = "updated_at", waitingFor = "waiting_for", failure
        case parentRunID = "parent_run_id"
    }
}

/// A page of runs, newest first, with the cursor of the next page.
struct RunPage: ResponseCodable, Sendable {
    var runs: [RunView]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case runs, nextCursor = "next_cursor"
    }
}

/// A journaled step.
struct StepView: Codable, Sendable {
    var address: String
    var name: String
    var kind: String
    var status: String
    var attempts: Int
    var startedAt: Date
    var completedAt: Date?
    var model: String?
    var usage: UsageView?
    var costUSD: Double?
    /// The number of the write that left the step as it is (in live events; their `id`).
    var commit: Int?
    /// How long the step took, once completed.
    var durationMS: Int?

    init(_ entry: JournalEntry) {
        address = entry.address
        name = entry.name
        kind = entry.kind.rawValue
        status = entry.status.rawValue
        attempts = entry.attempts
        startedAt = entry.startedAt
        completedAt = entry.completedAt
        model = entry.metering?.model
        usage = entry.metering.map { UsageView($0.usage) }
        costUSD = entry.metering?.costUSD
        durationMS = entry.completedAt.map { Int(max(0, ($0.timeIntervalSince(entry.startedAt) * 1_000).rounded())) }
    }

    enum CodingKeys: String, CodingKey {
        case address, name, kind, status, attempts, startedAt = "started_at", completedAt = "completed_at", model, usage, costUSD = "cost_usd", commit
        case durationMS = "duration_ms"
    }
}

/// One run with its input, outcome, steps, usage and cost.
struct RunDetailView: ResponseCodable, Sendable {
    var run: RunView
    var input: JSONValue
    var output: JSONValue?
    var steps: [StepView]
    var usage: UsageView
    var costUSD: Double

    enum CodingKeys: String, CodingKey {
        case run, input, output, steps, usage, costUSD = "cost_usd"
    }
}

struct ApprovalView: ResponseCodable, Sendable {
    var id: String
    var runID: String
    var kind: String
    var tool: String
    var arguments: String
    var reason: String
    var status: String
    var requestedAt: Date
    var expiresAt: Date?
    var decidedBy: String?
    var decidedAt: Date?

    init(_ record: ApprovalRecord) {
        id = record.request.id
        runID = record.request.runID
        kind = record.request.kind.rawValue
        tool = record.request.tool
        arguments = record.request.arguments
        reason = record.request.reason
        status = record.status.rawValue
        requestedAt = record.request.requestedAt
        expiresAt = record.request.expiresAt
        decidedBy = record.decidedBy
        decidedAt = record.decidedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, runID = "run_id", kind, tool, arguments, reason, status, requestedAt = "requested_at", expiresAt = "expires_at"
        case decidedBy = "decided_by", decidedAt = "decided_at"
    }
}

struct DeadLetterView: Codable, Sendable {
    var runID: String
    var workflow: String
    var failure: FailureView
    var journalLength: Int
    var createdAt: Date
    var resolvedAt: Date?

    init(_ letter: DeadLetter) {
        runID = letter.runID
        workflow = letter.workflow
        failure = FailureView(letter.failure)
        journalLength = letter.journalLength
        createdAt = letter.createdAt
        resolvedAt = letter.resolvedAt
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", workflow, failure, journalLength = "journal_length", createdAt = "created_at", resolvedAt = "resolved_at"
    }
}

struct CostView: Codable, Sendable {
    var key: String
    var steps: Int
    var usage: UsageView
    var costUSD: Double
    var unpricedSteps: Int
    var estimatedSteps: Int

    init(_ row: CostRow) {
        key = row.key
        steps = row.steps
        usage = UsageView(row.usage)
        costUSD = row.costUSD
        unpricedSteps = row.unpricedSteps
        estimatedSteps = row.estimatedSteps
    }

    enum CodingKeys: String, CodingKey {
        case key, steps, usage, costUSD = "cost_usd", unpricedSteps = "unpriced_steps", estimatedSteps = "estimated_steps"
    }
}

struct KeyView: ResponseCodable, Sendable {
    var id: String
    var name: String
    var tenant: String
    var role: String
    var createdAt: Date
    var revokedAt: Date?
    /// The key itself: only in the answer that made it.
    var key: String?

    init(_ record: APIKeyRecord, key: String? = nil) {
        id = record.id
        name = record.name
        tenant = record.tenant
        role = record.role.rawValue
        createdAt = record.createdAt
        revokedAt = record.revokedAt
        self.key = key
    }

    enum CodingKeys: String, CodingKey {
        case id, name, tenant, role, createdAt = "created_at", revokedAt = "revoked_at", key
    }
}

/// A list under one key, such as `{"approvals": […]}`.
struct Listing<Item: Codable & Sendable>: ResponseCodable, Sendable {
    var items: [Item]
    let name: String

    init(_ name: String, _ items: [Item]) {
        self.name = name
        self.items = items
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard let key = container.allKeys.first else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "an empty listing")) }
        name = key.stringValue
        items = try container.decode([Item].self, forKey: key)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(items, forKey: Key(stringValue: name))
    }
}

/// An audit entry of the caller's tenant's runs.
struct AuditView: Codable, Sendable {
    var sequence: Int
    var time: Date
    var runID: String?
    var step: Int?
    var tool: String?
    var action: String
    var decision: String
    var actor: String
    var outcome: String?
    var hash: String

    init(_ entry: AuditEntry) {
        sequence = entry.sequence
        time = entry.time
        runID = entry.record.runID
        step = entry.record.step
        tool = entry.record.tool
        action = entry.record.action.rawValue
        decision = entry.record.decision
        actor = entry.record.actor
        outcome = entry.record.outcome
        hash = entry.hash
    }

    enum CodingKeys: String, CodingKey {
        case sequence, time, runID = "run_id", step, tool, action, decision, actor, outcome, hash
    }
}

/// Whether the audit chain is intact (the whole chain: it spans every tenant, so only its state
/// is shown).
struct AuditVerificationView: ResponseCodable, Sendable {
    var intact: Bool
    var problem: String?

    init(_ verification: AuditVerification) {
        intact = verification.isIntact
        problem = verification.isIntact ? nil : "the chain is broken at entry \(verification.firstBrokenSequence ?? 0): \(verification.problem ?? "")"
    }
}
