import Foundation
import KeelCore

extension InMemoryRunStore {
    public func signal(runID: String, name: String, payload: JSONValue, idempotencyKey: String?) async throws -> Bool {
        guard !ApprovalRecord.isReservedSignalName(name) else {
            throw StoreError(.invalidState, "'\(name)' is an approval's signal; decide the approval instead (keel approve or keel deny)")
        }
        return try state.withLock { state in
            guard var stored = state.runs[runID] else { throw StoreError(.notFound, "no run '\(runID)'") }
            if let idempotencyKey, stored.signals.contains(where: { $0.idempotencyKey == idempotencyKey }) {
                return false  // sent before: the retry of a send whose reply was lost
            }
            guard !stored.record.status.isFinished else { throw StoreError(.invalidState, "run '\(runID)' is \(stored.record.status); it takes no more signals") }
            state.nextSignal += 1
            stored.signals.append(Signal(id: state.nextSignal, name: name, payload: payload, idempotencyKey: idempotencyKey, consumed: false))
            if stored.record.status == .waiting, stored.record.waitingFor.contains(name) {
                stored.record.status = .pending
                stored.record.updatedAt = Date()
            }
            state.runs[runID] = stored
            return true
        }
    }

    public func takeSignal(runID: String, name: String, journaling entry: JournalEntry, lease: Lease) async throws -> JSONValue? {
        try state.withLock { state in
            try Self.checkLease(state, lease)
            guard let index = state.runs[runID]?.signals.firstIndex(where: { $0.name == name && !$0.consumed }),
                let payload = state.runs[runID]?.signals[index].payload
            else { return nil }
            var taken = entry
            taken.result = payload
            guard var stored = state.runs[runID] else { return nil }
            try Self.upsert(&stored, taken)
            state.runs[runID] = stored
            state.runs[runID]?.signals[index].consumed = true
            return payload
        }
    }
}
