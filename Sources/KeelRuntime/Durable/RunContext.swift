import Foundation
import KeelCore
import Logging
import Synchronization
import Tracing

/// What a workflow uses to do durable work: steps whose results are journaled, durable sleeps,
/// and waits for signals.
///
/// Steps are numbered in the order the workflow asks for them. The first time, a step's body runs
/// and its result is journaled in the same store transaction that advances the run; on replay
/// (after a crash or a wait) the journaled result is returned and the body does not run. A step
/// returns its result as the journal holds it, so the first run and every replay see the same
/// value.
///
/// **Scopes.** Work that runs concurrently inside one run — branches of a fan-out, agents side by
/// side — takes a scope each (``scope(_:)``): a child context with its own position counter and
/// an address under its parent's (`research/agent-2`), so that the branches journal and replay
/// deterministically however their steps interleave. Replay checks each step's name within its
/// scope; a branch that failed runs again alone when the run resumes, the others replaying.
public final class RunContext: Sendable {
    /// The run's id.
    public let runID: String
    public let logger: Logger
    /// This context's address in the run: empty for the run itself, `research/agent-2` for a
    /// scope opened as `agent-2` inside the scope `research`.
    public let scope: String
    let store: any RunStore
    /// The store when it is the in-memory one: its steps are appended without suspending.
    private let memory: InMemoryRunStore?
    let clock: any Clock<Duration>
    let inlineSleepLimit: Duration
    private let deadlineDate: Date?
    /// The position of the run's own counter when this scope's outermost scope was opened (0 for
    /// the run itself): a fork at a position keeps the scopes opened before it.
    let scopeAnchor: Int
    /// This scope's journal, by position.
    let journal: [Int: JournalEntry]
    /// What the scopes of one execution of the run share.
    private let execution: Execution
    struct Positions {
        var next = 0
        var children: Set<String> = []
    }
    let positions = Mutex(Positions())

    /// The journal, the lease and how the run stops, shared by the run's context and its scopes.
    private final class Execution: Sendable {
        struct State {
            var lease: Lease
            var suspension: RunSuspension?
            var failed: (scope: String, sequence: Int)?
        }
        let journal: [String: [Int: JournalEntry]]
        /// Whether any scope holds the billed attempts of a step that failed (most runs: none).
        let hasBilledScopes: Bool
        let state: Mutex<State>
        let completedSteps: Int
        /// What the run's metered steps cost, replayed and new, in every scope.
        let spent: Mutex<Spend>
        /// Where the steps' spans go; `nil` when nothing traces (found once per execution).
        let tracer: (any Tracer)?
        /// Where the steps' metrics go; `nil` when no metrics backend is bootstrapped.
        let metrics: KeelMetrics?

        init(journal: [JournalEntry], lease: Lease) {
            tracer = activeTracer()
            metrics = KeelMetrics.active()
            var byScope: [String: [Int: JournalEntry]] = [:]
            var spent = Spend.zero
            for entry in journal {
                byScope[entry.scope, default: [:]][entry.sequence] = entry
                if entry.status == .completed, let metering = entry.metering { spent += metering.spend }
            }
            self.journal = byScope
            hasBilledScopes = byScope.keys.contains { $0.hasPrefix("billed-") || $0.contains("/billed-") }
            completedSteps = journal.count { $0.status == .completed }
            state = Mutex(State(lease: lease))
            self.spent = Mutex(spent)
        }
    }

    convenience init(
        runID: String, lease: Lease, journal: [JournalEntry], store: any RunStore, clock: any Clock<Duration>, inlineSleepLimit: Duration,
        deadline: Date? = nil, logger: Logger
    ) {
        let execution = Execution(journal: journal, lease: lease)
        self.init(
            runID: runID, scope: "", scopeAnchor: 0, execution: execution, store: store, clock: clock, inlineSleepLimit: inlineSleepLimit,
            deadline: deadline, logger: logger)
    }

    private init(
        runID: String, scope: String, scopeAnchor: Int, execution: Execution, store: any RunStore, clock: any Clock<Duration>,
        inlineSleepLimit: Duration, deadline: Date?, logger: Logger
    ) {
        self.runID = runID
        self.scope = scope
        self.scopeAnchor = scopeAnchor
        self.execution = execution
        self.journal = execution.journal[scope] ?? [:]
        self.deadlineDate = deadline
        self.store = store
        self.memory = store as? InMemoryRunStore
        self.clock = clock
        self.inlineSleepLimit = inlineSleepLimit
        self.logger = logger
    }

    // MARK: Scopes

    /// A scope of this context named `name`: a child context with its own positions, at the
    /// address `scope/name`. Open each name once per context (a scope opened twice would replay
    /// the other's steps); give branches names that say which they are (`agent-2`, `item-17`).
    /// Opening a scope takes no position here, so branches may open theirs concurrently.
    ///
    /// Throws ``WorkflowError/Code/invalidScope`` for an empty name, a name with `/`, or a
    /// name this context has already opened.
    public func scope(_ name: String) throws -> RunContext {
        guard !name.isEmpty, !name.contains("/") else {
            throw WorkflowError(.invalidScope, "a scope's name must be non-empty and without '/', not '\(name)'")
        }
        let anchor = try positions.withLock { positions in
            guard positions.children.insert(name).inserted else {
                throw WorkflowError(
                    .invalidScope, "the scope '\(address(of: name))' is opened twice in run '\(runID)'; give each branch a name of its own")
            }
            return scope.isEmpty ? positions.next : scopeAnchor
        }
        var logger = self.logger
        let path = scope.isEmpty ? name : "\(scope)/\(name)"
        logger[metadataKey: "scope"] = "\(path)"
        return RunContext(
            runID: runID, scope: path, scopeAnchor: anchor, execution: execution, store: store, clock: clock, inlineSleepLimit: inlineSleepLimit,
            deadline: deadlineDate, logger: logger)
    }

    /// Runs `body` in the scope `name` of this context (see ``scope(_:)``).
    public func scope<T>(_ name: String, _ body: (RunContext) async throws -> T) async throws -> T {
        try await body(try scope(name))
    }

    /// Runs `body` once per name, concurrently (at most `limit` at a time), each in the scope of
    /// that name, and returns the results in the order of `names`: a fan-out.
    ///
    /// Every branch runs to its end: one that fails does not cancel the others, so that their
    /// work is journaled; then the first failure in name order is thrown. When the run resumes,
    /// the branches that completed replay and the failed one runs again alone. A branch that
    /// waits (for an approval, a signal, a timer) makes the run wait once all have run.
    public func branches<T: Sendable>(
        _ names: [String], limit: Int = .max, _ body: @escaping @Sendable (_ name: String, _ scope: RunContext) async throws -> T
    ) async throws -> [T] {
        let scopes = try names.map { try scope($0) }
        return try await branches(scopes, limit: limit) { branch in try await body(String(branch.scope.split(separator: "/").last ?? ""), branch) }
    }

    /// ``branches(_:limit:_:)`` over scopes opened before (with ``scope(_:)``), for a workflow
    /// that opens them before it reserves the position of the step that gathers their results.
    public func branches<T: Sendable>(
        _ scopes: [RunContext], limit: Int = .max, _ body: @escaping @Sendable (_ scope: RunContext) async throws -> T
    ) async throws -> [T] {
        let outcomes = try await concurrentMap(scopes, limit: limit) { _, branch -> Result<T, any Error> in
            do {
                return .success(try await body(branch))
            } catch {
                return .failure(error)
            }
        }
        var suspension: RunSuspension?
        for case .failure(let error) in outcomes {
            guard let waiting = error as? RunSuspension else { throw error }
            suspension = suspension ?? waiting
        }
        // Every branch's wait is recorded on the run (merged): wait for all of them.
        if let suspension { throw pendingSuspension ?? suspension }
        return try outcomes.map { try $0.get() }
    }

    /// The address of `component` in this scope: `scope/component`, or `component` in the run.
    public func address(of component: some CustomStringConvertible) -> String {
        scope.isEmpty ? component.description : "\(scope)/\(component)"
    }

    // MARK: The execution

    /// The lease under which this process writes.
    var lease: Lease { execution.state.withLock { $0.lease } }

    func updateLease(_ lease: Lease) { execution.state.withLock { $0.lease = lease } }

    /// The suspension a workflow asked for, even if its code swallowed the error.
    var pendingSuspension: RunSuspension? { execution.state.withLock { $0.suspension } }

    /// The address of the last step whose body threw, for the run's failure record.
    var failedStep: (scope: String, sequence: Int)? { execution.state.withLock { $0.failed } }

    /// Runs a step's body, remembering its position if it throws.
    private func running<T>(_ sequence: Int, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            failed(sequence, error)
            throw error
        }
    }

    /// Remembers the position of a step whose body threw `error` (a wait is not a failure).
    private func failed(_ sequence: Int, _ error: any Error) {
        if !(error is RunSuspension) { execution.state.withLock { $0.failed = (scope, sequence) } }
    }

    /// What the run's model steps have cost so far — replayed and new, in every scope — as their
    /// journal entries meter it.
    public var spent: Spend { execution.spent.withLock { $0 } }

    /// How many completed entries the journal held when the run was resumed (in every scope).
    public var replayedSteps: Int { execution.completedSteps }

    /// Whether the step at the next position is already journaled (the run is replaying).
    public var isReplaying: Bool { journal[positions.withLock { $0.next }]?.status == .completed }

    /// The name of the completed step journaled at the next position, if any: how a workflow
    /// replays a decision it made from the clock or the world (such as "the deadline had passed")
    /// the same way it made it the first time.
    public var nextJournaledStepName: String? {
        guard let entry = journal[positions.withLock { $0.next }], entry.status == .completed else { return nil }
        return entry.name
    }

    /// When the run must stop, if it has a deadline.
    public var deadline: Date? { deadlineDate }

    /// The position the next step of this scope will take.
    var nextSequence: Int { positions.withLock { $0.next } }

    /// What the billed attempts of the step at `sequence` metered in earlier executions of the
    /// run: the steps journaled in its scope `billed-<sequence>` when the run was resumed.
    func meteredSpend(ofBilledAttemptsAt sequence: Int) -> Spend {
        guard execution.hasBilledScopes else { return .zero }
        let name = "billed-\(sequence)"
        let path = scope.isEmpty ? name : "\(scope)/\(name)"
        return (execution.journal[path] ?? [:]).values.reduce(Spend.zero) { total, entry in
            entry.status == .completed ? total + (entry.metering?.spend ?? .zero) : total
        }
    }

    /// Reserves the next `count` positions of this scope, in order, for steps that run in parallel.
    public func reserveSequences(_ count: Int) -> Range<Int> {
        positions.withLock { positions in
            let start = positions.next
            positions.next += count
            return start..<(start + count)
        }
    }

    /// A journal entry of this scope.
    func entry(
        _ sequence: Int, _ name: String, kind: StepKind, status: JournalEntry.Status, result: JSONValue? = nil, idempotencyKey: String? = nil,
        isSideEffecting: Bool = false, attempts: Int = 1, metering: StepMetering? = nil, wakeAt: Date? = nil, startedAt: Date = Date(),
        completedAt: Date? = nil
    ) -> JournalEntry {
        JournalEntry(
            runID: runID, sequence: sequence, name: name, kind: kind, status: status, result: result, idempotencyKey: idempotencyKey,
            isSideEffecting: isSideEffecting, attempts: attempts, metering: metering, wakeAt: wakeAt, startedAt: startedAt, completedAt: completedAt,
            scope: scope, scopeAnchor: scopeAnchor)
    }

    /// The idempotency key of the step at `sequence`: `run id:address`.
    func idempotencyKey(_ sequence: Int) -> String { runID + ":" + address(of: sequence) }

    // MARK: Steps

    /// Runs `body` once and journals its result; on replay returns the journaled result.
    ///
    /// - Parameters:
    ///   - name: The step's name; replay checks it against the journal (non-determinism is an
    ///     error, not silent corruption).
    ///   - kind: What the step is, for reports and costs.
    ///   - metering: The model and tokens of a model step, recorded with it.
    public func step<T: Codable & Sendable>(
        _ name: String, kind: StepKind = .custom, metering: (T) -> StepMetering? = { _ in nil }, _ body: () async throws -> T
    ) async throws -> T {
        let sequence = reserveSequences(1).lowerBound
        return try await step(at: sequence, name, kind: kind, metering: metering, body)
    }

    /// ``step(_:kind:metering:_:)`` at a position reserved with ``reserveSequences(_:)``.
    public func step<T: Codable & Sendable>(
        at sequence: Int, _ name: String, kind: StepKind = .custom, metering: (T) -> StepMetering? = { _ in nil },
        _ body: () async throws -> T
    ) async throws -> T {
        try await step(at: sequence, name, kind: kind, metering: metering, retry: .none) { _ in try await body() }
    }

    /// A step whose body is retried by `retry` (waiting on the run's clock between attempts); the
    /// journal records how many attempts it took. The body receives the attempt number, from 1,
    /// so attempt N can send something different.
    public func step<T: Codable & Sendable>(
        _ name: String, kind: StepKind = .custom, metering: (T) -> StepMetering? = { _ in nil }, retry: RetryPolicy,
        random: @Sendable () -> Double = { Double.random(in: 0...1) }, _ body: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        let sequence = reserveSequences(1).lowerBound
        return try await step(at: sequence, name, kind: kind, metering: metering, retry: retry, random: random, body)
    }

    /// ``step(_:kind:metering:retry:random:_:)`` at a reserved position; the store commits the
    /// ``StepEffects`` that `effects` gives for the result — a spend settled, audit records — in
    /// the transaction that journals it.
    public func step<T: Codable & Sendable>(
        at sequence: Int, _ name: String, kind: StepKind = .custom, metering: (T) -> StepMetering? = { _ in nil }, retry: RetryPolicy,
        random: @Sendable () -> Double = { Double.random(in: 0...1) }, effects: (T) -> StepEffects = { _ in .none },
        _ body: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        if let result = try replayed(sequence, name, as: T.self) { return result }
        return try await running(sequence, name) {
            try await traced(execution.tracer, "step \(name)") { span in
                span.map { describe($0, sequence, kind: kind) }
                let started = Date()
                var attempts = 1
                let value: T
                do {
                    if retry.maxAttempts > 1 {
                        value = try await retry.run(clock: clock, random: random) { attempt in
                            attempts = attempt
                            return try await body(attempt)
                        }
                    } else {
                        // One attempt (most steps): no retry loop around it.
                        value = try await body(1)
                    }
                } catch {
                    failed(sequence, error)
                    throw error
                }
                let metered = metering(value)
                if let span {
                    span.attributes[SpanName.attempt] = attempts
                    if let metered {
                        span.record(metered.usage)
                        if let cost = metered.costUSD { span.attributes[SpanName.cost] = cost }
                    }
                }
                return try await complete(
                    sequence, name, kind: kind, value: value, metering: metered, startedAt: started,
                    attempts: (journal[sequence]?.attempts ?? 0) + attempts, effects: effects(value))
            }
        }
    }

    /// Runs `body` as the step at `sequence`, as far as log lines in it are concerned (see
    /// ``StepLogMetadata``).
    private func running<T>(_ sequence: Int, _ name: String, _ body: () async throws -> T) async throws -> T {
        try await StepLogMetadata.$current.withValue(StepLogMetadata(runID: runID, address: address(of: sequence), name: name), operation: body)
    }

    /// Keel's attributes of the span of the step at `sequence`.
    private func describe(_ span: any Span, _ sequence: Int, kind: StepKind) {
        span.attributes[SpanName.runID] = runID
        span.attributes[SpanName.sequence] = sequence
        span.attributes[SpanName.address] = address(of: sequence)
        span.attributes[SpanName.stepKind] = kind.rawValue
    }

    /// Where this run's spans go; `nil` when nothing traces.
    var tracer: (any Tracer)? { execution.tracer }

    /// Where this run's metrics go; `nil` when nothing records them.
    var metrics: KeelMetrics? { execution.metrics }

    /// A step that changes something outside the run. It is journaled as *started* before its
    /// body runs, and the body receives an idempotency key (`run id` + `:` + position) that stays
    /// the same on every attempt. Found started but unfinished on resume, it is *in doubt*: a pure
    /// step (`isSideEffecting == false`) simply runs again; a side-effecting one follows `inDoubt`.
    ///
    /// With ``InDoubtPolicy/askHuman``, a step in doubt becomes an approval request ("did this
    /// happen?"): approving runs it again with the same key; denying records it as done, with
    /// `confirmedDone` making the result from the decision. `arguments` (JSON text) tell that person
    /// what the step was doing.
    public func sideEffect<T: Codable & Sendable>(
        at sequence: Int? = nil, _ name: String, kind: StepKind = .tool, isSideEffecting: Bool = true, inDoubt: InDoubtPolicy = .fail,
        arguments: String = "{}", effects: (T) -> StepEffects = { _ in .none }, confirmedDone: ((ApprovalRecord) -> T)? = nil,
        _ body: (_ idempotencyKey: String) async throws -> T
    ) async throws -> T {
        let sequence = sequence ?? reserveSequences(1).lowerBound
        if let result = try replayed(sequence, name, as: T.self) { return result }
        return try await running(sequence, name) {
            try await traced(execution.tracer, "step \(name)") { span in
                span.map { describe($0, sequence, kind: kind) }
                return try await performSideEffect(
                    at: sequence, name, kind: kind, isSideEffecting: isSideEffecting, inDoubt: inDoubt, arguments: arguments, effects: effects,
                    confirmedDone: confirmedDone, body)
            }
        }
    }

    /// ``sideEffect(at:_:kind:isSideEffecting:inDoubt:arguments:effects:confirmedDone:_:)`` after
    /// the replay check.
    private func performSideEffect<T: Codable & Sendable>(
        at sequence: Int, _ name: String, kind: StepKind, isSideEffecting: Bool, inDoubt: InDoubtPolicy, arguments: String,
        effects: (T) -> StepEffects, confirmedDone: ((ApprovalRecord) -> T)?, _ body: (_ idempotencyKey: String) async throws -> T
    ) async throws -> T {
        let key = idempotencyKey(sequence)
        let here = address(of: sequence)
        let previous = journal[sequence]
        if let previous, previous.status == .started, previous.isSideEffecting {
            switch inDoubt {
            case .retry:
                break
            case .fail:
                throw WorkflowError(
                    .inDoubt,
                    "step \(here) '\(name)' was started but not finished before the process stopped; whether its effect happened is in doubt (idempotency key \(key)). Check it, then fork the run after it or resume it with a retry policy.",
                    sequence: sequence, scope: scope)
            case .askHuman:
                // One question per attempt: after an approved retry that was itself cut short, the
                // next resume must ask again, not reuse the approval of the attempt before.
                let request = ApprovalRequest(
                    id: "\(key):in-doubt:\(previous.attempts)", kind: .inDoubt, runID: runID, sequence: sequence, tool: name, arguments: arguments,
                    reason: "step \(here) '\(name)' was started but not finished before the process stopped (idempotency key \(key)). Approve to run it again with the same key; deny if it did happen.")
                let record = try await store.requestApproval(request, lease: lease)
                switch record.status {
                case .approved:
                    break
                case .denied, .expired:
                    guard let confirmedDone else {
                        throw WorkflowError(.inDoubt, "step \(here) '\(name)' was confirmed done by \(record.decidedBy ?? "a person") but has no result to record", sequence: sequence, scope: scope)
                    }
                    return try await complete(
                        sequence, name, kind: kind, value: confirmedDone(record), metering: nil, startedAt: Date(), attempts: previous.attempts,
                        idempotencyKey: key, isSideEffecting: true)
                case .pending, .escalated:
                    throw suspend(RunSuspension(wakeAt: nil, waitingFor: [ApprovalRecord.signalName(for: request.id)]))
                }
            }
        }
        let attempts = (previous?.attempts ?? 0) + 1
        let started = Date()
        try await store.append(
            entry(sequence, name, kind: kind, status: .started, idempotencyKey: key, isSideEffecting: isSideEffecting, attempts: attempts, startedAt: started),
            lease: lease)
        let value = try await running(sequence) { try await body(key) }
        return try await complete(
            sequence, name, kind: kind, value: value, metering: nil, startedAt: started, attempts: attempts, idempotencyKey: key,
            isSideEffecting: isSideEffecting, effects: effects(value))
    }

    /// The journaled result at `sequence`, or `nil` when the body must run.
    func replayed<T: Decodable>(_ sequence: Int, _ name: String, as type: T.Type) throws -> T? {
        guard let entry = journal[sequence] else { return nil }
        guard entry.name == name else {
            throw WorkflowError(
                .nonDeterminism,
                "non-determinism in run '\(runID)': the journal holds step \(address(of: sequence)) as '\(entry.name)', but the workflow asked for '\(name)'. The workflow code changed or depends on something outside its steps; fork the run before that step or start a new one.",
                sequence: sequence, scope: scope)
        }
        guard entry.status == .completed else { return nil }
        return try decode(entry.result ?? .null, as: T.self, sequence: sequence, name: name)
    }

    func complete<T: Codable & Sendable>(
        _ sequence: Int, _ name: String, kind: StepKind, value: T, metering: StepMetering?, startedAt: Date, attempts: Int,
        idempotencyKey: String? = nil, isSideEffecting: Bool = false, effects: StepEffects = .none
    ) async throws -> T {
        let completed = entry(
            sequence, name, kind: kind, status: .completed, idempotencyKey: idempotencyKey, isSideEffecting: isSideEffecting,
            attempts: attempts, metering: metering, startedAt: startedAt, completedAt: Date())
        if let metering { execution.spent.withLock { $0 += metering.spend } }
        if let memory {
            // Nothing to suspend for, so nothing a cancellation could cut short.
            try memory.appendNow(completed, value: value, lease: lease, effects: effects)
            return value
        }
        let written: JSONValue?
        let writeStarted = execution.metrics == nil ? nil : ContinuousClock.now
        defer { if let writeStarted { execution.metrics?.journalWrite(ContinuousClock.now - writeStarted) } }
        if Task.isCancelled {
            // The body is done — a model was paid, a tool ran: its result is journaled even when
            // the step's task is cancelled (a sibling branch failed, the worker stops), or it
            // would run again on resume.
            let (store, lease) = (store, lease)
            written = try await Task { try await store.append(completed, result: value, lease: lease, effects: effects) }.value
        } else {
            written = try await store.append(completed, result: value, lease: lease, effects: effects)
        }
        // What the journal holds, as a replay will see it; a store that keeps the value itself
        // (in memory) gives it back as it is.
        guard let written else { return value }
        return try decode(written, as: T.self, sequence: sequence, name: name)
    }

    func decode<T: Decodable>(_ value: JSONValue, as type: T.Type, sequence: Int, name: String) throws -> T {
        do {
            return try value.decode(as: T.self)
        } catch {
            throw WorkflowError(
                .nonDeterminism,
                "the journaled result of step \(address(of: sequence)) '\(name)' does not decode as \(T.self) (the workflow code changed): \(error)",
                sequence: sequence, scope: scope)
        }
    }

    /// Records a suspension (merging with others raised by parallel steps) and returns it to throw.
    func suspend(_ suspension: RunSuspension) -> RunSuspension {
        execution.state.withLock { state in
            if var existing = state.suspension {
                existing.waitingFor.append(contentsOf: suspension.waitingFor.filter { !existing.waitingFor.contains($0) })
                if let wake = suspension.wakeAt { existing.wakeAt = min(existing.wakeAt ?? wake, wake) }
                state.suspension = existing
            } else {
                state.suspension = suspension
            }
            return state.suspension ?? suspension
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        duration.timeInterval
    }
}
