import Foundation
import KeelCore
import Logging
import Synchronization

/// What a workflow uses to do durable work: steps whose results are journaled, durable sleeps,
/// and waits for signals.
///
/// Steps are numbered in the order the workflow asks for them. The first time, a step's body runs
/// and its result is journaled in the same store transaction that advances the run; on replay
/// (after a crash or a wait) the journaled result is returned and the body does not run. A step
/// returns its result as the journal holds it, so the first run and every replay see the same
/// value.
public final class RunContext: Sendable {
    /// The run's id.
    public let runID: String
    public let logger: Logger
    let store: any RunStore
    let clock: any Clock<Duration>
    let inlineSleepLimit: Duration
    private let deadlineDate: Date?
    private let journal: [Int: JournalEntry]
    private struct State {
        var lease: Lease
        var nextSequence = 0
        var suspension: RunSuspension?
        var failedSequence: Int?
    }
    private let state: Mutex<State>

    init(
        runID: String, lease: Lease, journal: [JournalEntry], store: any RunStore, clock: any Clock<Duration>, inlineSleepLimit: Duration,
        deadline: Date? = nil, logger: Logger
    ) {
        self.runID = runID
        self.deadlineDate = deadline
        self.store = store
        self.clock = clock
        self.inlineSleepLimit = inlineSleepLimit
        self.logger = logger
        self.journal = Dictionary(journal.map { ($0.sequence, $0) }, uniquingKeysWith: { $1 })
        state = Mutex(State(lease: lease))
    }

    /// The lease under which this process writes.
    var lease: Lease { state.withLock { $0.lease } }

    func updateLease(_ lease: Lease) { state.withLock { $0.lease = lease } }

    /// The suspension a workflow asked for, even if its code swallowed the error.
    var pendingSuspension: RunSuspension? { state.withLock { $0.suspension } }

    /// The position of the last step whose body threw, for the run's failure record.
    var failedSequence: Int? { state.withLock { $0.failedSequence } }

    /// Runs a step's body, remembering its position if it throws.
    private func running<T>(_ sequence: Int, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            if !(error is RunSuspension) { state.withLock { $0.failedSequence = sequence } }
            throw error
        }
    }

    /// How many completed entries the journal held when the run was resumed.
    public var replayedSteps: Int { journal.values.count { $0.status == .completed } }

    /// Whether the step at the next position is already journaled (the run is replaying).
    public var isReplaying: Bool { journal[state.withLock { $0.nextSequence }]?.status == .completed }

    /// The name of the completed step journaled at the next position, if any: how a workflow
    /// replays a decision it made from the clock or the world (such as "the deadline had passed")
    /// the same way it made it the first time.
    public var nextJournaledStepName: String? {
        guard let entry = journal[state.withLock { $0.nextSequence }], entry.status == .completed else { return nil }
        return entry.name
    }

    /// When the run must stop, if it has a deadline.
    public var deadline: Date? { deadlineDate }

    /// Reserves the next `count` positions, in order, for steps that run in parallel.
    public func reserveSequences(_ count: Int) -> Range<Int> {
        state.withLock { state in
            let start = state.nextSequence
            state.nextSequence += count
            return start..<(start + count)
        }
    }

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
        try await step(at: sequence, name, kind: kind, metering: metering, retry: .none, settling: nil) { _ in try await body() }
    }

    /// A step whose body is retried by `retry` (waiting on the run's clock between attempts); the
    /// journal records how many attempts it took. The body receives the attempt number, from 1,
    /// so attempt N can send something different.
    public func step<T: Codable & Sendable>(
        _ name: String, kind: StepKind = .custom, metering: (T) -> StepMetering? = { _ in nil }, retry: RetryPolicy,
        random: @Sendable () -> Double = { Double.random(in: 0...1) }, _ body: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        let sequence = reserveSequences(1).lowerBound
        return try await step(at: sequence, name, kind: kind, metering: metering, retry: retry, random: random, settling: nil, body)
    }

    /// ``step(_:kind:metering:retry:random:_:)`` at a reserved position. With `settling`, the
    /// store settles that spend reservation at the step's metering in the transaction that
    /// journals it.
    public func step<T: Codable & Sendable>(
        at sequence: Int, _ name: String, kind: StepKind = .custom, metering: (T) -> StepMetering? = { _ in nil }, retry: RetryPolicy,
        random: @Sendable () -> Double = { Double.random(in: 0...1) }, settling: SpendReservation? = nil,
        audit: (T) -> [AuditRecord] = { _ in [] }, _ body: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        if let result = try replayed(sequence, name, as: T.self) { return result }
        let started = Date()
        var attempts = 0
        let value = try await running(sequence) {
            try await retry.run(clock: clock, random: random) { attempt in
                attempts = attempt
                return try await body(attempt)
            }
        }
        return try await complete(
            sequence, name, kind: kind, value: value, metering: metering(value), startedAt: started,
            attempts: (journal[sequence]?.attempts ?? 0) + attempts, settling: settling, audit: audit(value))
    }

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
        arguments: String = "{}", audit: (T) -> [AuditRecord] = { _ in [] }, confirmedDone: ((ApprovalRecord) -> T)? = nil,
        _ body: (_ idempotencyKey: String) async throws -> T
    ) async throws -> T {
        let sequence = sequence ?? reserveSequences(1).lowerBound
        if let result = try replayed(sequence, name, as: T.self) { return result }
        let key = "\(runID):\(sequence)"
        let previous = journal[sequence]
        if let previous, previous.status == .started, previous.isSideEffecting {
            switch inDoubt {
            case .retry:
                break
            case .fail:
                throw WorkflowError(
                    .inDoubt,
                    "step \(sequence) '\(name)' was started but not finished before the process stopped; whether its effect happened is in doubt (idempotency key \(key)). Check it, then fork the run at \(sequence + 1) or resume it with a retry policy.",
                    sequence: sequence)
            case .askHuman:
                // One question per attempt: after an approved retry that was itself cut short, the
                // next resume must ask again, not reuse the approval of the attempt before.
                let request = ApprovalRequest(
                    id: "\(key):in-doubt:\(previous.attempts)", kind: .inDoubt, runID: runID, sequence: sequence, tool: name, arguments: arguments,
                    reason: "step \(sequence) '\(name)' was started but not finished before the process stopped (idempotency key \(key)). Approve to run it again with the same key; deny if it did happen.")
                let record = try await store.requestApproval(request, lease: lease)
                switch record.status {
                case .approved:
                    break
                case .denied, .expired:
                    guard let confirmedDone else {
                        throw WorkflowError(.inDoubt, "step \(sequence) '\(name)' was confirmed done by \(record.decidedBy ?? "a person") but has no result to record", sequence: sequence)
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
            JournalEntry(
                runID: runID, sequence: sequence, name: name, kind: kind, status: .started, idempotencyKey: key,
                isSideEffecting: isSideEffecting, attempts: attempts, startedAt: started),
            lease: lease)
        let value = try await running(sequence) { try await body(key) }
        return try await complete(
            sequence, name, kind: kind, value: value, metering: nil, startedAt: started, attempts: attempts, idempotencyKey: key,
            isSideEffecting: isSideEffecting, audit: audit(value))
    }

    /// The journaled result at `sequence`, or `nil` when the body must run.
    private func replayed<T: Decodable>(_ sequence: Int, _ name: String, as type: T.Type) throws -> T? {
        guard let entry = journal[sequence] else { return nil }
        guard entry.name == name else {
            throw WorkflowError(
                .nonDeterminism,
                "non-determinism in run '\(runID)': the journal holds step \(sequence) as '\(entry.name)', but the workflow asked for '\(name)'. The workflow code changed or depends on something outside its steps; fork the run before step \(sequence) or start a new one.",
                sequence: sequence)
        }
        guard entry.status == .completed else { return nil }
        return try decode(entry.result ?? .null, as: T.self, sequence: sequence, name: name)
    }

    private func complete<T: Codable>(
        _ sequence: Int, _ name: String, kind: StepKind, value: T, metering: StepMetering?, startedAt: Date, attempts: Int,
        idempotencyKey: String? = nil, isSideEffecting: Bool = false, settling: SpendReservation? = nil, audit: [AuditRecord] = []
    ) async throws -> T {
        let result = try JSONValue(encoding: value)
        let entry = JournalEntry(
            runID: runID, sequence: sequence, name: name, kind: kind, status: .completed, result: result, idempotencyKey: idempotencyKey,
            isSideEffecting: isSideEffecting, attempts: attempts, metering: metering, startedAt: startedAt, completedAt: Date())
        try await store.append(entry, lease: lease, settling: settling, audit: audit)
        return try decode(result, as: T.self, sequence: sequence, name: name)
    }

    private func decode<T: Decodable>(_ value: JSONValue, as type: T.Type, sequence: Int, name: String) throws -> T {
        do {
            return try value.decode(as: T.self)
        } catch {
            throw WorkflowError(
                .nonDeterminism,
                "the journaled result of step \(sequence) '\(name)' does not decode as \(T.self) (the workflow code changed): \(error)",
                sequence: sequence)
        }
    }

    // MARK: Approvals

    /// Waits durably for a person's decision on `request` (its id stable for the call), at a
    /// reserved position, and journals the decision there. The decision is read from the store's
    /// approval record — never from a signal's payload — so only `decideApproval` can approve.
    /// When the request times out its policy applies: deny (journaled as a denial), escalate (an
    /// alert, then waiting without a limit), or fail the run.
    public func approval(at sequence: Int, _ request: ApprovalRequest, alerts: any AlertHook) async throws -> ApprovalOutcome {
        let name = "approval-\(request.tool)-\(request.id)"
        if let outcome = try replayed(sequence, name, as: ApprovalOutcome.self) { return outcome }
        let record = try await store.requestApproval(request, lease: lease)
        @Sendable func decided(_ record: ApprovalRecord) -> ApprovalOutcome {
            ApprovalOutcome(decision: record.decision ?? .deny(reason: "no decision recorded"), decidedBy: record.decidedBy ?? "unknown", timedOut: false)
        }
        switch record.status {
        case .approved, .denied:
            return try await complete(sequence, name, kind: .signal, value: decided(record), metering: nil, startedAt: Date(), attempts: 1)
        case .expired:
            let outcome = ApprovalOutcome(decision: .deny(reason: "the approval timed out"), decidedBy: "policy", timedOut: true)
            return try await complete(sequence, name, kind: .signal, value: outcome, metering: nil, startedAt: Date(), attempts: 1)
        case .pending, .escalated:
            if record.status == .pending, let expires = record.request.expiresAt, expires <= (try await store.currentTime()) {
                switch record.request.onTimeout {
                case .deny:
                    let closed = try await store.closeApproval(id: request.id, as: .expired, lease: lease)
                    if closed.status == .approved || closed.status == .denied {
                        // A person decided just before the time ran out: the decision stands.
                        return try await complete(sequence, name, kind: .signal, value: decided(closed), metering: nil, startedAt: Date(), attempts: 1)
                    }
                    let outcome = ApprovalOutcome(decision: .deny(reason: "nobody decided within the approval's time limit"), decidedBy: "policy", timedOut: true)
                    let audit = AuditRecord(
                        runID: runID, step: request.sequence, tool: request.tool, action: .approval,
                        argumentsDigest: AuditRecord.digest(ofArguments: request.arguments), decision: "denied: timed out", actor: "policy")
                    return try await complete(sequence, name, kind: .signal, value: outcome, metering: nil, startedAt: Date(), attempts: 1, audit: [audit])
                case .fail:
                    let closed = try await store.closeApproval(id: request.id, as: .expired, lease: lease)
                    if closed.status == .approved || closed.status == .denied {
                        return try await complete(sequence, name, kind: .signal, value: decided(closed), metering: nil, startedAt: Date(), attempts: 1)
                    }
                    throw WorkflowError(.approvalTimedOut, "nobody decided approval \(request.id) for \(request.tool) in time", sequence: sequence)
                case .escalate:
                    let closed = try await store.closeApproval(id: request.id, as: .escalated, lease: lease)
                    if closed.status == .approved || closed.status == .denied {
                        return try await complete(sequence, name, kind: .signal, value: decided(closed), metering: nil, startedAt: Date(), attempts: 1)
                    }
                    await alerts.send(Alert(
                        kind: .approvalEscalated, message: "approval \(request.id) for \(request.tool) in run \(runID) waited past its time limit: \(request.reason)",
                        runID: runID))
                    throw suspend(RunSuspension(wakeAt: nil, waitingFor: [ApprovalRecord.signalName(for: request.id)]))
                }
            }
            throw suspend(RunSuspension(wakeAt: record.status == .pending ? record.request.expiresAt : nil, waitingFor: [ApprovalRecord.signalName(for: request.id)]))
        }
    }

    // MARK: Time

    /// Waits durably: the wake-up time is journaled, so a process that stops during the sleep
    /// sleeps only what is left when the run resumes. Sleeps up to the runtime's inline limit
    /// happen in this process; longer ones put the run to wait, and the process may exit.
    public func sleep(for duration: Duration, name: String = "sleep") async throws {
        let sequence = reserveSequences(1).lowerBound
        if let entry = journal[sequence] {
            guard entry.name == name, entry.kind == .sleep else {
                _ = try replayed(sequence, name, as: JSONValue.self)
                return
            }
            if entry.status == .completed { return }
        }
        // On the store's clock: the run may wake on another worker, whose clock is another.
        let now = try await store.currentTime()
        let wakeAt = journal[sequence]?.wakeAt ?? now.addingTimeInterval(Self.seconds(duration))
        if journal[sequence] == nil {
            try await store.append(
                JournalEntry(runID: runID, sequence: sequence, name: name, kind: .sleep, status: .started, wakeAt: wakeAt, startedAt: Date()),
                lease: lease)
        }
        let remaining = wakeAt.timeIntervalSince(now)
        if remaining > 0 {
            guard remaining <= Self.seconds(inlineSleepLimit) else { throw suspend(RunSuspension(wakeAt: wakeAt, waitingFor: [])) }
            try await clock.sleep(for: Duration(boundedSeconds: remaining) ?? .zero)
        }
        try await store.append(
            JournalEntry(runID: runID, sequence: sequence, name: name, kind: .sleep, status: .completed, result: .null, wakeAt: wakeAt, startedAt: Date(), completedAt: Date()),
            lease: lease)
    }

    /// The current time, journaled so that replay sees the same instant.
    public func now(name: String = "now") async throws -> Date {
        try await step(name) { Date() }
    }

    // MARK: Signals

    /// Waits durably for a signal sent with ``RunStore/signal(runID:name:payload:)`` (or
    /// `keel runs signal`), and returns its payload. The run waits — and the process may exit —
    /// until the signal arrives.
    public func waitForSignal<T: Codable & Sendable>(_ name: String, as type: T.Type = T.self) async throws -> T {
        guard let value = try await waitForSignal(name, as: type, timeout: nil) else {
            throw WorkflowError(.nonDeterminism, "signal '\(name)' timed out without a timeout")
        }
        return value
    }

    /// Waits durably for a signal, or until `timeout` passes (then returns `nil`). The deadline
    /// is journaled, so it holds across restarts.
    public func waitForSignal<T: Codable & Sendable>(_ name: String, as type: T.Type = T.self, timeout: Duration?) async throws -> T? {
        let sequence = reserveSequences(1).lowerBound
        let stepName = "signal:\(name)"
        if let entry = journal[sequence] {
            if entry.status == .completed {
                guard entry.name == stepName else { _ = try replayed(sequence, stepName, as: JSONValue.self); return nil }
                if entry.kind == .sleep { return nil }  // journaled as timed out
                return try decode(entry.result ?? .null, as: T.self, sequence: sequence, name: stepName)
            }
            guard entry.name == stepName else { _ = try replayed(sequence, stepName, as: JSONValue.self); return nil }
        }
        var deadline = journal[sequence]?.wakeAt
        if journal[sequence] == nil, let timeout {
            // On the store's clock, as every timer: the run may resume on another worker.
            deadline = try await store.currentTime().addingTimeInterval(Self.seconds(timeout))
        }
        if journal[sequence] == nil {
            try await store.append(
                JournalEntry(runID: runID, sequence: sequence, name: stepName, kind: .signal, status: .started, wakeAt: deadline, startedAt: Date()),
                lease: lease)
        }
        if let payload = try await store.takeSignal(runID: runID, name: name, sequence: sequence, stepName: stepName, lease: lease) {
            return try decode(payload, as: T.self, sequence: sequence, name: stepName)
        }
        if let deadline, deadline <= (try await store.currentTime()) {
            try await store.append(
                JournalEntry(runID: runID, sequence: sequence, name: stepName, kind: .sleep, status: .completed, result: .null, wakeAt: deadline, startedAt: Date(), completedAt: Date()),
                lease: lease)
            return nil
        }
        throw suspend(RunSuspension(wakeAt: deadline, waitingFor: [name]))
    }

    /// Records a suspension (merging with others raised by parallel steps) and returns it to throw.
    func suspend(_ suspension: RunSuspension) -> RunSuspension {
        state.withLock { state in
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
