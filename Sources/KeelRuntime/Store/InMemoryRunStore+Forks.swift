import Foundation
import KeelCore

/// Cancelling, reopening and forking runs kept in memory.
extension InMemoryRunStore {
    public func cancel(runID: String) async throws -> RunRecord {
        try state.withLock { state in
            guard var run = state.runs[runID]?.record else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard !run.status.isFinished else { return run }
            // A new epoch fences off the owner, if any: its next write is refused.
            run.epoch += 1
            run.finish(.cancelled, output: nil, failure: nil, at: Date())
            state.runs[runID]?.record = run
            return run
        }
    }

    public func reopen(runID: String) async throws -> RunRecord {
        try state.withLock { state in
            guard var stored = state.runs[runID] else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard try StoreRules.reopens(stored.record) else { return stored.record }
            let now = Date()
            stored.record.status = .pending
            stored.record.failure = nil
            stored.record.updatedAt = now
            stored.recoveries = 0
            state.runs[runID] = stored
            if state.deadLetters[runID]?.resolvedAt == nil { state.deadLetters[runID]?.resolvedAt = now }
            return stored.record
        }
    }

    public func fork(runID: String, atSequence sequence: Int, newRunID: String) async throws -> RunRecord {
        try state.withLock { state in
            guard let source = state.runs[runID] else { throw StoreError(.notFound, "no run '\(runID)'") }
            guard state.runs[newRunID] == nil else { throw StoreError(.conflict, "run id '\(newRunID)' is taken") }
            let length = source.journal.keys.count { $0.scope.isEmpty }
            try StoreRules.checkFork(runID: runID, at: sequence, length: length)
            var encoded = source
            try Self.encodeValues(&encoded)
            state.runs[runID] = encoded
            let (position, kept) = JournalEntry.forked(Array(encoded.journal.values), at: sequence)
            let now = Date()
            var record = RunRecord(
                id: newRunID, workflow: source.record.workflow, input: source.record.input, status: .pending, parentRunID: runID,
                forkedAt: position, tenant: source.record.tenant, deadline: source.record.deadline, createdAt: now, updatedAt: now)
            record.epoch = 0
            var copy = StoredRun(record: record)
            for entry in kept.sorted(by: { ($0.startedAt, $0.scope, $0.sequence) < ($1.startedAt, $1.scope, $1.sequence) }) {
                var entry = entry
                entry.runID = newRunID
                let address = Address(scope: entry.scope, sequence: entry.sequence)
                copy.journal[address] = entry
                copy.lastCommit += 1
                copy.commits[address] = copy.lastCommit
            }
            state.runs[newRunID] = copy
            return record
        }
    }
}

extension RunRecord {
    /// Ends the run with `status`, giving up its lease and waits.
    mutating func finish(_ status: RunStatus, output: JSONValue?, failure: RunFailure?, at now: Date) {
        self.status = status
        self.output = output
        self.failure = failure
        owner = nil
        leaseExpiresAt = nil
        wakeAt = nil
        waitingFor = []
        updatedAt = now
    }
}

extension InMemoryRunStore: JournalFeed {
    public func journalChanges(runID: String, after commit: Int, limit: Int) async throws -> [JournalChange] {
        try state.withLock { state in
            guard var stored = state.runs[runID] else { return [] }
            try Self.encodeValues(&stored)
            state.runs[runID] = stored
            let changes = stored.journal.compactMap { address, entry in
                stored.commits[address].flatMap { $0 > commit ? JournalChange(commit: $0, entry: entry) : nil }
            }
            return Array(changes.sorted { $0.commit < $1.commit }.prefix(max(0, limit)))
        }
    }
}
