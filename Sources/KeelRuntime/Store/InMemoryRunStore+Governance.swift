import Foundation
import KeelCore

extension InMemoryRunStore {
    // MARK: Dead letters and costs

    public func deadLetters(includeResolved: Bool, limit: Int) async throws -> [DeadLetter] {
        state.withLock { state in
            let letters = state.deadLetters.values.filter { includeResolved || $0.resolvedAt == nil }
            return Array(letters.sorted { $0.createdAt > $1.createdAt }.prefix(max(0, limit)))
        }
    }

    public func costs(_ query: CostQuery) async throws -> [CostRow] {
        state.withLock { state in
            var rows: [String: CostRow] = [:]
            let day = DateFormatter()
            day.dateFormat = "yyyy-MM-dd"
            day.timeZone = TimeZone(identifier: "UTC")
            day.locale = Locale(identifier: "en_US_POSIX")
            for stored in state.runs.values {
                let run = stored.record
                if let runID = query.runID, runID != run.id { continue }
                if let tenant = query.tenant, tenant != run.tenant { continue }
                for entry in stored.journal.values where entry.status == .completed {
                    guard let metering = entry.metering else { continue }
                    let completed = entry.completedAt ?? entry.startedAt
                    if let since = query.since, completed < since { continue }
                    let key: String
                    switch query.groupBy {
                    case .run: key = run.id
                    case .model: key = metering.model
                    case .tenant: key = run.tenant ?? "-"
                    case .day: key = day.string(from: completed)
                    }
                    var row = rows[key] ?? CostRow(key: key, steps: 0, usage: .zero, costUSD: 0)
                    row.steps += 1
                    row.usage += metering.usage
                    row.costUSD += metering.costUSD ?? 0
                    if metering.costUSD == nil { row.unpricedSteps += 1 }
                    if metering.usage.isEstimated { row.estimatedSteps += 1 }
                    rows[key] = row
                }
            }
            return rows.values.sorted { ($0.costUSD, $1.key) > ($1.costUSD, $0.key) }
        }
    }

    // MARK: Approvals

    public func requestApproval(_ request: ApprovalRequest, lease: Lease) async throws -> ApprovalRecord {
        try state.withLock { state in
            try Self.checkLease(state, lease)
            if let existing = state.approvals[request.id] { return existing }
            let record = ApprovalRecord(request: request, status: .pending)
            state.approvals[request.id] = record
            return record
        }
    }

    public func approval(id: String) async throws -> ApprovalRecord? {
        state.withLock { $0.approvals[id] }
    }

    public func approvals(runID: String?, status: ApprovalStatus?) async throws -> [ApprovalRecord] {
        state.withLock { state in
            state.approvals.values
                .filter { (runID == nil || $0.request.runID == runID) && (status == nil || $0.status == status) }
                .sorted { ($0.request.requestedAt, $0.request.id) < ($1.request.requestedAt, $1.request.id) }
        }
    }

    public func decideApproval(id: String, decision: ApprovalDecision, by: String) async throws -> ApprovalRecord {
        let key = auditKey
        return try state.withLock { state in
            guard let undecided = state.approvals[id] else { throw StoreError(.notFound, "no approval '\(id)'") }
            let now = Date()
            let record = try StoreRules.decide(undecided, with: decision, by: by, at: now)
            state.approvals[id] = record
            Self.appendAudit(&state, [record.auditRecord(deciding: decision, by: by)], key: key)
            // Wake the run if it waits for this decision.
            let runID = record.request.runID
            if let run = state.runs[runID]?.record, StoreRules.wakes(run, onDecisionOf: id) {
                state.runs[runID]?.record.status = .pending
                state.runs[runID]?.record.updatedAt = now
            }
            return record
        }
    }

    @discardableResult
    public func closeApproval(id: String, as status: ApprovalStatus, lease: Lease) async throws -> ApprovalRecord {
        try StoreRules.checkClosing(as: status)
        return try state.withLock { state in
            try Self.checkLease(state, lease)
            guard var record = state.approvals[id] else { throw StoreError(.notFound, "no approval '\(id)'") }
            if record.status == .pending || record.status == .escalated {
                record.status = status
                if status == .escalated { record.request.expiresAt = nil }
                state.approvals[id] = record
            }
            return record
        }
    }

    // MARK: Audit

    public func appendAudit(_ records: [AuditRecord]) async throws {
        let key = auditKey
        state.withLock { Self.appendAudit(&$0, records, key: key) }
    }

    public func auditLog(runID: String?, tool: String?, limit: Int?) async throws -> [AuditEntry] {
        state.withLock { state in
            let entries = state.audit.filter { (runID == nil || $0.record.runID == runID) && (tool == nil || $0.record.tool == tool) }
            return limit.map { Array(entries.prefix(max(0, $0))) } ?? entries
        }
    }

    public func verifyAuditLog() async throws -> AuditVerification {
        let key = auditKey
        return state.withLock { state in
            AuditVerification.verify(state.audit, storedHead: state.audit.last?.hash, key: key)
        }
    }

    /// Appends records to the chain: each entry's hash covers the previous entry's hash.
    static func appendAudit(_ state: inout State, _ records: [AuditRecord], key: AuditKey?) {
        guard !records.isEmpty else { return }
        let head = state.audit.last.map { (sequence: $0.sequence, hash: $0.hash) }
        state.audit += StoreRules.chain(records, after: head, at: Date(), key: key)
    }

    // MARK: Spend ledger

    public func reserve(_ amount: Spend, in scope: SpendScope, cap: Budget, ttl: Duration) async throws -> Result<SpendReservation, BudgetExceeded> {
        state.withLock { $0.book.reserve(amount, in: scope, cap: cap, ttl: ttl) }
    }

    public func renew(_ reservation: SpendReservation, ttl: Duration) async throws -> Bool {
        state.withLock { $0.book.renew(reservation, ttl: ttl) }
    }

    public func settle(_ reservation: SpendReservation, actual: Spend) async throws {
        state.withLock { $0.book.settle(reservation, actual: actual) }
    }

    public func spent(in scope: SpendScope) async throws -> Spend {
        state.withLock { $0.book.spent[scope] ?? .zero }
    }

    public func markAlertFired(in scope: SpendScope, threshold: Double) async throws -> Bool {
        state.withLock { $0.book.markAlertFired(in: scope, threshold: threshold) }
    }

    public func consumeQuota(_ key: String, limit: Int) async throws -> Bool {
        state.withLock { $0.book.consumeQuota(key, limit: limit) }
    }
}

extension InMemoryRunStore {
    public func summary(tenant: String?) async throws -> StoreSummary {
        state.withLock { state in
            var summary = StoreSummary()
            let runs = state.runs.values.filter { tenant == nil || $0.record.tenant == tenant }
            for run in runs { summary.runs[run.record.status, default: 0] += 1 }
            let ids = Set(runs.map(\.record.id))
            for approval in state.approvals.values where ids.contains(approval.request.runID) { summary.approvals[approval.status, default: 0] += 1 }
            summary.openDeadLetters = state.deadLetters.values.count { $0.resolvedAt == nil && ids.contains($0.runID) }
            return summary
        }
    }
}
