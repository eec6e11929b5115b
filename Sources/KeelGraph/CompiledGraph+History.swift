import Foundation
import KeelCore
import KeelRuntime

/// The state of a graph run after one super-step, rebuilt from its journal.
public struct GraphCheckpoint: Sendable, Hashable, Codable {
    /// The super-step, from 1; 0 for the state the run started with.
    public var superStep: Int
    /// The position of the super-step's journal entry in the graph's scope (-1 for the start).
    public var sequence: Int
    /// The nodes that ran in it.
    public var nodes: [String]
    /// The nodes due next (``END`` reached when empty).
    public var next: [String]
    /// Each node's update, in the order they were applied.
    public var updates: [String: StateUpdate]
    /// The state after it, with any edit made before the next super-step.
    public var state: JSONValue
    /// Whether a person edited the state after this super-step (at an interrupt or in a fork).
    public var isEdited: Bool
}

extension CompiledGraph {
    /// The state after each super-step of a run of this graph, from the run's journal (in the
    /// scope the graph ran in, `""` for a graph that is the run's workflow) and the state the run
    /// started with: LangGraph's state history, for time travel.
    public func history(_ journal: [JournalEntry], initial: State, scope: String = "") throws -> [GraphCheckpoint] {
        var state = try fields(of: initial)
        let start = try routes(from: [START], state: initial)
        var checkpoints = [
            GraphCheckpoint(superStep: 0, sequence: -1, nodes: [], next: start.map(\.node), updates: [:], state: .object(state), isEdited: false)
        ]
        let entries = journal.filter { $0.scope == scope && $0.status == .completed }.sorted { $0.sequence < $1.sequence }
        for entry in entries {
            if let index = Self.superStepIndex(entry.name) {
                let record = try (entry.result ?? .null).decode(as: SuperStepRecord.self)
                try apply(record, to: &state)
                var updates: [String: StateUpdate] = [:]
                for update in record.updates { updates[update.node + (update.branch.map { "[\($0)]" } ?? "")] = update.update }
                checkpoints.append(
                    GraphCheckpoint(
                        superStep: index, sequence: entry.sequence, nodes: record.ran, next: record.next.map(\.node), updates: updates,
                        state: .object(state), isEdited: false))
            } else if entry.kind == .signal, let payload = entry.result, let edit = try? payload.decode(as: GraphResume.self),
                edit.state != nil || edit.update != nil
            {
                try apply(edit, to: &state, observer: nil)
                if var last = checkpoints.popLast() {
                    last.state = .object(state)
                    last.isEdited = true
                    checkpoints.append(last)
                }
            }
        }
        return checkpoints
    }

    /// A new run that goes on from the state after super-step `superStep` of `runID` (a run
    /// whose workflow is this graph), optionally with the state edited first — LangGraph's
    /// `update_state` on a past checkpoint. The new run keeps the journal up to that super-step
    /// (so nothing before it runs again) and is ready to run (`keel runs resume NEW`).
    ///
    /// - Parameters:
    ///   - initial: The state `runID` started with.
    ///   - edit: A new state, or an update through the reducers, applied before the next
    ///     super-step.
    public func fork(
        _ runID: String, atSuperStep superStep: Int, in store: any RunStore, newRunID: String, initial: State, edit: GraphResume? = nil
    ) async throws -> RunRecord {
        let checkpoints = try history(try await store.journal(runID: runID), initial: initial)
        guard let checkpoint = checkpoints.first(where: { $0.superStep == superStep }) else {
            throw GraphError(
                .noSuchSuperStep, "run '\(runID)' has no super-step \(superStep); it has 0 to \(checkpoints.last?.superStep ?? 0)")
        }
        if let edit {
            // Checked before the fork exists, so that a bad edit leaves nothing behind.
            var state = try fieldsOf(checkpoint.state)
            try apply(edit, to: &state, observer: nil)
        }
        let record = try await store.fork(runID: runID, atSequence: checkpoint.sequence + 1, newRunID: newRunID)
        if let edit {
            _ = try await store.signal(runID: record.id, name: Self.stateEditSignal, payload: try JSONValue(encoding: edit), idempotencyKey: nil)
        }
        return record
    }

    private func fieldsOf(_ value: JSONValue) throws -> Fields {
        guard case .object(let fields) = value else { throw GraphError(.invalidState, "a graph's state must be a JSON object") }
        return fields
    }

    /// The journal names of super-steps: `superstep 3` for one that holds the updates,
    /// `checkpoint 10` for one that also holds the whole state.
    static var deltaPrefix: String { "superstep " }
    static var snapshotPrefix: String { "checkpoint " }

    /// The journal name of super-step `index`.
    static func stepName(_ index: Int, isSnapshot: Bool) -> String {
        (isSnapshot ? snapshotPrefix : deltaPrefix) + String(index)
    }

    /// The super-step number in a journal entry's name (`superstep 3`, `checkpoint 10`).
    static func superStepIndex(_ name: String) -> Int? {
        for prefix in [deltaPrefix, snapshotPrefix] where name.hasPrefix(prefix) {
            return Int(name.dropFirst(prefix.count))
        }
        return nil
    }
}
