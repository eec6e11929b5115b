import Foundation
import KeelCore

/// Durable time and signals: sleeps whose wake-up time is journaled, the journaled "now", and
/// waits for signals sent from outside the run.
extension RunContext {
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
                entry(sequence, name, kind: .sleep, status: .started, wakeAt: wakeAt),
                lease: lease)
        }
        let remaining = wakeAt.timeIntervalSince(now)
        if remaining > 0 {
            guard remaining <= Self.seconds(inlineSleepLimit) else { throw suspend(RunSuspension(wakeAt: wakeAt, waitingFor: [])) }
            try await clock.sleep(for: Duration(boundedSeconds: remaining) ?? .zero)
        }
        try await store.append(
            entry(sequence, name, kind: .sleep, status: .completed, result: .null, wakeAt: wakeAt, completedAt: Date()),
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
                entry(sequence, stepName, kind: .signal, status: .started, wakeAt: deadline),
                lease: lease)
        }
        let taken = entry(sequence, stepName, kind: .signal, status: .completed, completedAt: Date())
        if let payload = try await store.takeSignal(runID: runID, name: name, journaling: taken, lease: lease) {
            return try decode(payload, as: T.self, sequence: sequence, name: stepName)
        }
        if let deadline, deadline <= (try await store.currentTime()) {
            try await store.append(
                entry(sequence, stepName, kind: .sleep, status: .completed, result: .null, wakeAt: deadline, completedAt: Date()),
                lease: lease)
            return nil
        }
        throw suspend(RunSuspension(wakeAt: deadline, waitingFor: [name]))
    }
}
