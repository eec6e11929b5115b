import Foundation
import KeelCore

/// Reading what a scope's journal held when the run resumed, skipping over what a workflow has
/// already rebuilt from it, and taking a signal only when one was sent.
extension RunContext {
    /// A completed step of this scope as the journal held it when the run resumed.
    public struct JournaledStep: Sendable {
        /// The step's position in its scope.
        public let sequence: Int
        public let name: String
        public let result: JSONValue?
    }

    /// The completed steps of this scope that the journal held when the run resumed, in position
    /// order, for a workflow that rebuilds its state from them without replaying each (a graph
    /// starting from its latest snapshot). Steps written during this execution are not included.
    public func journaledSteps() -> [JournaledStep] {
        journal.values.filter { $0.status == .completed }.sorted { $0.sequence < $1.sequence }.map {
            JournaledStep(sequence: $0.sequence, name: $0.name, result: $0.result)
        }
    }

    /// Whether the journal held the step at `sequence` of this scope as completed when the run
    /// resumed (it will be replayed, not run).
    public func isJournaled(at sequence: Int) -> Bool {
        journal[sequence]?.status == .completed
    }

    /// Moves this scope's next position to `sequence`, so that the steps before it — which the
    /// workflow has taken from ``journaledSteps()`` — are not asked for again. Only forward, and
    /// only over positions the journal holds as completed.
    ///
    /// Throws ``WorkflowError/Code/nonDeterminism`` for a position behind the next one or a gap
    /// the journal does not hold.
    public func skipReplay(to sequence: Int) throws {
        try positions.withLock { positions in
            guard sequence >= positions.next else {
                throw WorkflowError(
                    .nonDeterminism, "cannot skip back from position \(positions.next) to \(sequence) in \(scope.isEmpty ? "run '\(runID)'" : "scope '\(scope)'")")
            }
            for position in positions.next..<sequence where journal[position]?.status != .completed {
                throw WorkflowError(
                    .nonDeterminism, "cannot skip over step \(address(of: position)): the journal does not hold it as completed", sequence: position, scope: scope)
            }
            positions.next = sequence
        }
    }

    /// Takes the signal `name` if it has been sent, without waiting: journaled at the next position
    /// when it is there, nothing journaled (and no position taken) when it is not. On replay it
    /// returns the payload the journal holds at the next position, or `nil` when the journal holds
    /// another step there (the signal had not been sent then).
    ///
    /// Call it where no other step of this scope takes a position at the same time.
    public func signalIfSent<T: Codable & Sendable>(_ name: String, as type: T.Type = T.self) async throws -> T? {
        let sequence = nextSequence
        let stepName = "signal:\(name)"
        if let entry = journal[sequence], entry.status == .completed {
            guard entry.name == stepName else { return nil }
            _ = reserveSequences(1)
            return try decode(entry.result ?? .null, as: T.self, sequence: sequence, name: stepName)
        }
        if let entry = journal[sequence], entry.name != stepName {
            // A step started there and never finished: it asks for its position again.
            return nil
        }
        let taken = entry(sequence, stepName, kind: .signal, status: .completed, completedAt: Date())
        guard let payload = try await store.takeSignal(runID: runID, name: name, journaling: taken, lease: lease) else { return nil }
        _ = reserveSequences(1)
        return try decode(payload, as: T.self, sequence: sequence, name: stepName)
    }
}
