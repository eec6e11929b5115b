import Foundation
import KeelCore
import KeelRuntime

extension StepKind {
    /// A graph's super-step: the updates of the nodes that ran and what runs next.
    public static let superStep = StepKind("super_step")
}

/// A checked ``StateGraph``, ready to run as (or inside) a durable workflow.
///
/// A run goes in **super-steps**: the nodes due run concurrently, each in its own scope; their
/// updates are combined by the reducers in a fixed order (node name, then branch index); the
/// routers decide the next nodes from the new state; and the super-step — the updates and the
/// next nodes, not the whole state — is journaled as one step. A resumed run rebuilds its state
/// from the journal (from the latest snapshot on) without running a node again, and a node that
/// was running when the process died replays the steps it had journaled.
public struct CompiledGraph<State: Codable & Sendable & SchemaRepresentable>: Sendable {
    let definition: StateGraph<State>
    /// The graph's settings.
    public let options: GraphOptions
    let fields: Set<String>
    let nodes: [String: StateGraph<State>.Node]

    init(definition: StateGraph<State>, options: GraphOptions, fields: Set<String>) {
        self.definition = definition
        self.options = options
        self.fields = fields
        nodes = Dictionary(definition.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The nodes, in the order they were added.
    public var nodeNames: [String] { definition.nodes.map(\.name) }

    /// The signal that edits the state of a forked run before it goes on (see ``fork(_:atSuperStep:in:newRunID:initial:edit:)``).
    static var stateEditSignal: String { "graph:update-state" }

    /// The state as JSON fields.
    typealias Fields = [String: JSONValue]

    /// Where a run is between super-steps.
    struct Progress {
        var state: Fields
        var superStep: Int
        var tasks: [SuperStepRecord.Task]
        var ran: [String]
    }

    /// Runs the graph from `initial` in `context` (a workflow's context or a scope of it) until
    /// every path reaches ``END`` or the recursion limit; on resume, from where it stopped.
    ///
    /// Throws what a node throws once its attempts are spent (the run fails and resumes at that
    /// super-step, the nodes that finished replaying), a ``GraphError`` for an update or a route the
    /// graph does not allow, and lets a wait (an interrupt) pass so that the run can wait durably.
    public func run(_ initial: State, in context: RunContext, observer: (@Sendable (GraphEvent) -> Void)? = nil) async throws -> GraphResult<State> {
        try await run(initial, in: context, observer: observer, takesStateEdits: true)
    }

    func run(_ initial: State, in context: RunContext, observer: (@Sendable (GraphEvent) -> Void)?, takesStateEdits: Bool) async throws -> GraphResult<State> {
        var progress = Progress(state: try fields(of: initial), superStep: 0, tasks: try routes(from: [START], state: initial), ran: [])
        // 1. Start from the latest snapshot the journal holds, if any.
        try restoreSnapshot(&progress, in: context, observer: observer)
        var checkedEdits = false
        while true {
            // 2. An edit sent to a forked run; looked for once per execution, replayed from the journal.
            if takesStateEdits, context.isReplaying || !checkedEdits {
                checkedEdits = checkedEdits || !context.isReplaying
                if let edit = try await context.signalIfSent(Self.stateEditSignal, as: GraphResume.self) {
                    try apply(edit, to: &progress.state, observer: observer)
                }
            }
            // 3. A wait after the nodes of the last super-step.
            if progress.superStep > 0, !definition.interruptsAfter.isDisjoint(with: progress.ran) {
                try await wait("after:" + context.address(of: "s\(progress.superStep)"), progress: &progress, in: context, observer: observer)
            }
            // 4. The end: nothing left to run, or the limit.
            if progress.tasks.isEmpty { return try result(progress, .finished) }
            if progress.superStep >= options.recursionLimit { return try result(progress, .recursionLimitReached) }
            // Past the run's deadline the graph stops between super-steps with what it has (a
            // replayed super-step is not stopped: it ran before the deadline).
            if !context.isReplaying, let deadline = context.deadline, Date() >= deadline { return try result(progress, .deadlineReached) }
            let index = progress.superStep + 1
            // 5. A wait before the nodes of this super-step.
            if progress.tasks.contains(where: { definition.interruptsBefore.contains($0.node) }) {
                try await wait("before:" + context.address(of: "s\(index)"), progress: &progress, in: context, observer: observer)
            }
            // 6. The super-step, journaled as one step; replayed, no node runs.
            let isSnapshot = index % options.snapshotEvery == 0
            var computed: Fields?
            let current = progress
            // The nodes' scopes are opened before the super-step's position is taken, so that a
            // fork just after the super-step keeps them (a scope belongs to the position it was
            // opened at).
            let planned = plan(index, progress.tasks)
            let scopes = context.isReplaying ? [] : try planned.map { try context.scope($0.scope) }
            let record = try await context.step(Self.stepName(index, isSnapshot: isSnapshot), kind: .superStep) {
                let (record, state) = try await runSuperStep(index, current, planned: planned, scopes: scopes, snapshot: isSnapshot, in: context, observer: observer)
                computed = state
                return record
            }
            if let computed { progress.state = computed } else { try apply(record, to: &progress.state) }
            progress.superStep = index
            progress.tasks = record.next
            progress.ran = record.ran
            if let observer {
                observer(.superStepFinished(index: index, nodes: record.ran, next: record.next.map(\.node), state: .object(progress.state), replayed: computed == nil))
            }
        }
    }

    /// Takes the state from the latest snapshot in the journal and skips the steps before it.
    private func restoreSnapshot(_ progress: inout Progress, in context: RunContext, observer: (@Sendable (GraphEvent) -> Void)?) throws {
        guard let last = context.journaledSteps().last(where: { $0.name.hasPrefix(Self.snapshotPrefix) }), let index = Self.superStepIndex(last.name),
            let result = last.result
        else { return }
        let record: SuperStepRecord
        do {
            record = try result.decode(as: SuperStepRecord.self)
        } catch {
            throw WorkflowError(.nonDeterminism, "the snapshot of super-step \(index) in run '\(context.runID)' does not decode: \(error)")
        }
        guard case .object(let state)? = record.state else { return }
        progress = Progress(state: state, superStep: index, tasks: record.next, ran: record.ran)
        try context.skipReplay(to: last.sequence + 1)
        observer?(.superStepFinished(index: index, nodes: record.ran, next: record.next.map(\.node), state: .object(state), replayed: true))
    }

    /// Waits durably for the signal `id`, then applies the edit it carries.
    private func wait(_ id: String, progress: inout Progress, in context: RunContext, observer: (@Sendable (GraphEvent) -> Void)?) async throws {
        if !context.isReplaying { observer?(.interrupted(id: id, node: nil, value: nil)) }
        let resume = try await context.waitForSignal(id, as: GraphResume.self)
        try apply(resume, to: &progress.state, observer: observer)
    }

    private func result(_ progress: Progress, _ outcome: GraphOutcome) throws -> GraphResult<State> {
        GraphResult(state: try state(progress.state, after: "the last super-step"), outcome: outcome, superSteps: progress.superStep)
    }

    // MARK: State

    func fields(of state: State) throws -> Fields {
        guard case .object(let fields) = try JSONValue(encoding: state) else {
            throw GraphError(.invalidState, "\(State.self) must encode as a JSON object to be a graph's state")
        }
        return fields
    }

    func state(_ fields: Fields, after what: String) throws -> State {
        do {
            return try JSONValue.object(fields).decode(as: State.self)
        } catch {
            throw GraphError(.invalidState, "the state after \(what) does not decode as \(State.self): \(error)")
        }
    }

    /// Applies `update` from `source` (a node, or a person's edit) through the reducers.
    func apply(_ update: StateUpdate, from source: String, to state: inout Fields) throws {
        for (field, value) in update.fields.sorted(by: { $0.key < $1.key }) {
            guard fields.contains(field) else {
                throw GraphError(
                    .invalidUpdate, "\(source) updates '\(field)', which is not a field of \(State.self) (fields: \(fields.sorted().joined(separator: ", ")))",
                    node: source)
            }
            let reducer = definition.reducers[field] ?? .replace
            do {
                state[field] = try reducer.combine(state[field], value)
            } catch {
                throw GraphError(.invalidUpdate, "\(source)'s update of '\(field)' does not combine with its \(reducer) reducer: \(error)", node: source)
            }
        }
    }

    /// Applies a journaled super-step.
    func apply(_ record: SuperStepRecord, to state: inout Fields) throws {
        if case .object(let snapshot)? = record.state {
            state = snapshot
            return
        }
        for update in record.updates { try apply(update.update, from: "node '\(update.node)'", to: &state) }
    }

    /// Applies a person's edit: a whole new state, and/or an update through the reducers.
    func apply(_ edit: GraphResume, to state: inout Fields, observer: (@Sendable (GraphEvent) -> Void)?) throws {
        guard edit.state != nil || edit.update != nil else { return }
        var edited = state
        if let replacement = edit.state {
            guard case .object(let fields) = replacement else { throw GraphError(.invalidState, "an edited state must be a JSON object") }
            edited = fields
        }
        if let update = edit.update { try apply(update, from: "an edit", to: &edited) }
        _ = try self.state(edited, after: "an edit")
        state = edited
        observer?(.stateEdited(.object(edited)))
    }
}
