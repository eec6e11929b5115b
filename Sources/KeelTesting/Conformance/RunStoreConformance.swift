import Foundation
import KeelCore
import KeelRuntime

/// The checks every ``KeelRuntime/RunStore`` must pass: runs, journal, leases and fencing,
/// signals, timers, cancel and fork, scoped steps, dead letters and costs, concurrent writers, approvals and the audit
/// log. Run each against a fresh store (memory, SQLite and PostgreSQL all run it):
///
/// ```swift
/// @Test(arguments: RunStoreConformance.checks)
/// func sqliteConforms(_ check: RunStoreConformance.Check) async throws {
///     try await check.run(StoreUnderTest(open: { try SQLiteRunStore(path: path) }))
/// }
/// ```
public enum RunStoreConformance {
    /// A fresh, empty store, and a way to open a second handle on it (as another process would).
    public struct StoreUnderTest: Sendable {
        public let store: any RunStore
        public let openAnother: @Sendable () async throws -> any RunStore

        public init(store: any RunStore, openAnother: @escaping @Sendable () async throws -> any RunStore) {
            self.store = store
            self.openAnother = openAnother
        }
    }

    /// One named check.
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (StoreUnderTest) async throws -> Void
        public var description: String { name }
    }

    /// A check that did not hold.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: message()) }
    }

    static func expectStoreError<T>(_ code: StoreError.Code, _ what: String, _ body: () async throws -> T) async throws {
        do {
            _ = try await body()
            throw Failure(description: "\(what): expected \(code), but it succeeded")
        } catch let error as StoreError {
            try expect(error.code == code, "\(what): expected \(code), got \(error.code): \(error.message)")
        }
    }

    /// The `maxRecoveries` a store under test must be opened with: the quarantine check takes a
    /// run over that many times, then once more.
    public static let maxRecoveries = 5

    static let owner = RunOwner(id: "conformance/1/a")
    static let otherOwner = RunOwner(id: "conformance/2/b")

    static func claimed(_ store: any RunStore, _ runID: String, owner: RunOwner = owner, lease: Duration = .seconds(30)) async throws -> Lease {
        guard case .claimed(let lease, let record) = try await store.claim(runID: runID, owner: owner, leaseDuration: lease) else {
            throw Failure(description: "could not claim \(runID)")
        }
        try expect(record.status == .running, "a claimed run is running, got \(record.status)")
        return lease
    }

    static func entry(_ runID: String, _ sequence: Int, _ status: JournalEntry.Status = .completed, result: JSONValue = "r") -> JournalEntry {
        JournalEntry(runID: runID, sequence: sequence, name: "step-\(sequence)", kind: .custom, status: status, result: status == .completed ? result : nil, startedAt: Date(), completedAt: status == .completed ? Date() : nil)
    }

    /// The entry a signal taken at `sequence` is journaled as.
    static func signalEntry(_ runID: String, _ sequence: Int, _ name: String) -> JournalEntry {
        JournalEntry(runID: runID, sequence: sequence, name: name, kind: .signal, status: .completed, startedAt: Date(), completedAt: Date())
    }

    /// A completed entry at `sequence` of `scope`, opened at the run's position `anchor`.
    static func scoped(_ runID: String, _ scope: String, _ sequence: Int, anchor: Int, name: String? = nil) -> JournalEntry {
        var step = entry(runID, sequence, result: .string("\(scope)/\(sequence)"))
        step.name = name ?? "step-\(sequence)"
        step.scope = scope
        step.scopeAnchor = anchor
        return step
    }

    /// Every check.
    public static let checks: [Check] = runChecks + reportChecks

    /// The checks of runs, journals, leases, signals, forks and governance.
    static let runChecks: [Check] = [
        Check(name: "a run is accepted durably and idempotently by id") { subject in
            let store = subject.store
            let (first, created) = try await store.createRun(NewRun(id: "r1", workflow: "w", input: ["n": 1], tenant: "acme"))
            try expect(created, "the first create creates")
            try expect(first.status == .pending && first.input == ["n": 1] && first.tenant == "acme", "the run is pending with its input and tenant")
            let (again, createdAgain) = try await store.createRun(NewRun(id: "r1", workflow: "w", input: ["n": 2]))
            try expect(!createdAgain && again.input == ["n": 1], "submitting the same id returns the existing run")
            let other = try await subject.openAnother()
            try expect(try await other.run(id: "r1")?.workflow == "w", "another handle sees the run")
            try await expectStoreError(.conflict, "an id of another workflow") { try await store.createRun(NewRun(id: "r1", workflow: "x", input: nil)) }
        },
        Check(name: "the journal appends in order and completes each step exactly once") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "j", workflow: "w", input: nil))
            let lease = try await claimed(store, "j")
            try await store.append(entry("j", 0), lease: lease)
            try await store.append(entry("j", 1, .started), lease: lease)
            try await store.append(entry("j", 1, result: ["x": true]), lease: lease)
            var withUsage = entry("j", 2)
            withUsage.metering = StepMetering(model: "openai:gpt-4o-mini", usage: Usage(inputTokens: 10, cachedInputTokens: 4, outputTokens: 3, reasoningTokens: 1))
            try await store.append(withUsage, lease: lease)
            let journal = try await store.journal(runID: "j")
            try expect(journal.map(\.sequence) == [0, 1, 2], "entries come back in order, got \(journal.map(\.sequence))")
            try expect(journal.allSatisfy { $0.status == .completed }, "all entries are completed")
            try expect(journal[1].result == ["x": true], "a completed step replaces its started marker")
            try expect(journal[2].metering == withUsage.metering, "metering is kept")
            try await expectStoreError(.duplicateStep, "completing a step twice") { try await store.append(entry("j", 1), lease: lease) }
            try expect(try await store.journal(runID: "j")[1].result == ["x": true], "a refused duplicate changes nothing")
        },
        Check(name: "a live owner keeps its run and an expired lease is taken over") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "l", workflow: "w", input: nil))
            let first = try await claimed(store, "l", lease: .seconds(30))
            guard case .busy(let holder, _) = try await store.claim(runID: "l", owner: otherOwner, leaseDuration: .seconds(30)) else {
                throw Failure(description: "a second owner must not claim a live lease")
            }
            try expect(holder == owner.id, "busy names the holder")
            let renewed = try await store.renew(first, leaseDuration: .milliseconds(50))
            try expect(renewed.epoch == first.epoch, "renewing keeps the epoch")
            try await Task.sleep(for: .milliseconds(120))
            let second = try await claimed(store, "l", owner: otherOwner)
            try expect(second.epoch > first.epoch, "a takeover raises the epoch")
        },
        Check(name: "a run that stops worker after worker without finishing a step is quarantined") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "q", workflow: "crasher", input: nil))
            var lease = try await claimed(store, "q", lease: .milliseconds(30))
            /// The run taken over from a worker whose lease lapsed, as a worker's poll would.
            func takeover(_ number: Int) async throws -> Lease? {
                try await Task.sleep(for: .milliseconds(80))
                let next = try await store.claimNextRunnable(owner: RunOwner(id: "conformance/\(number)/w"), leaseDuration: .milliseconds(30), workflows: ["crasher"])
                return next?.0
            }
            for number in 1...3 {
                lease = try await takeover(number).orFail("takeover \(number) of 5 allowed")
            }
            // A finished step is progress: the count starts again.
            try await store.append(entry("q", 0), lease: lease)
            for number in 4...8 {
                lease = try await takeover(number).orFail("takeover \(number - 3) after a finished step")
            }
            try expect(try await takeover(9) == nil, "the sixth takeover in a row without progress quarantines the run (open the store with maxRecoveries = \(maxRecoveries))")
            let record = try await store.run(id: "q")
            try expect(record?.status == .failed && record?.failure?.code == "quarantined", "a quarantined run is failed as quarantined, got \(String(describing: record))")
            let letters = try await store.deadLetters(includeResolved: false, limit: 10)
            try expect(letters.map(\.runID) == ["q"], "a quarantined run is a dead letter")
            let reopened = try await store.reopen(runID: "q")
            try expect(reopened.status == .pending, "a quarantined run can be retried")
            lease = try await claimed(store, "q", lease: .milliseconds(30))
            try expect(try await takeover(10) != nil, "a retried run has its takeovers again")
        },
        Check(name: "a write under a stale epoch is refused and not committed") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "z", workflow: "w", input: nil))
            let zombie = try await claimed(store, "z", lease: .milliseconds(30))
            try await store.append(entry("z", 0), lease: zombie)
            try await Task.sleep(for: .milliseconds(80))
            let other = try await subject.openAnother()
            let fresh = try await claimed(other, "z", owner: otherOwner)
            try await expectStoreError(.leaseLost, "a zombie's late journal write") { try await store.append(entry("z", 1), lease: zombie) }
            try await expectStoreError(.leaseLost, "a zombie's finish") { try await store.finish(zombie, status: .completed, output: "late", failure: nil) }
            try await expectStoreError(.leaseLost, "a zombie's renewal") { try await store.renew(zombie, leaseDuration: .seconds(30)) }
            try expect(try await store.journal(runID: "z").map(\.sequence) == [0], "nothing the zombie wrote late was committed")
            try await other.append(entry("z", 1), lease: fresh)
            try await other.finish(fresh, status: .completed, output: "done", failure: nil)
            let record = try await store.run(id: "z")
            try expect(record?.status == .completed && record?.output == "done", "the new owner's outcome stands")
        },
        Check(name: "a run's outcome is recorded once") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "o", workflow: "w", input: nil))
            let lease = try await claimed(store, "o")
            try await store.finish(lease, status: .failed, output: nil, failure: RunFailure(code: "rate_limited", message: "429", sequence: 3))
            try await expectStoreError(.leaseLost, "finishing again") { try await store.finish(lease, status: .completed, output: "x", failure: nil) }
            let record = try await store.run(id: "o")
            try expect(record?.status == .failed && record?.failure == RunFailure(code: "rate_limited", message: "429", sequence: 3), "the first outcome stands")
            guard case .finished = try await store.claim(runID: "o", owner: otherOwner, leaseDuration: .seconds(1)) else {
                throw Failure(description: "a finished run cannot be claimed")
            }
            let reopened = try await store.reopen(runID: "o")
            try expect(reopened.status == .pending && reopened.failure == nil, "a failed run can be reopened")
        },
        Check(name: "a signal sent again with its idempotency key is delivered once") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "k", workflow: "w", input: nil))
            let waiting = try await claimed(store, "k")
            try await store.suspend(waiting, wakeAt: nil, waitingFor: ["go"])
            try expect(try await store.signal(runID: "k", name: "go", payload: 1, idempotencyKey: "send-1"), "the first send delivers")
            try expect(try await !store.signal(runID: "k", name: "go", payload: 1, idempotencyKey: "send-1"), "a retried send delivers nothing more")
            try expect(try await store.run(id: "k")?.status == .pending, "the signal woke the run")
            let lease = try await claimed(store, "k")
            try expect(try await store.takeSignal(runID: "k", name: "go", journaling: signalEntry("k", 0, "signal-go"), lease: lease) == 1, "the signal is taken")
            try expect(try await store.takeSignal(runID: "k", name: "go", journaling: signalEntry("k", 1, "signal-go"), lease: lease) == nil, "only one was delivered")
            try await store.finish(lease, status: .completed, output: nil, failure: nil)
            try expect(try await !store.signal(runID: "k", name: "go", payload: 1, idempotencyKey: "send-1"), "a retry after the run finished is not an error")
            try await expectStoreError(.invalidState, "a new send to a finished run") {
                try await store.signal(runID: "k", name: "go", payload: 2, idempotencyKey: "send-2")
            }
        },
        Check(name: "a signal wakes its waiting run and is taken exactly once") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "s", workflow: "w", input: nil))
            var lease = try await claimed(store, "s")
            try expect(try await store.takeSignal(runID: "s", name: "go", journaling: signalEntry("s", 0, "signal:go"), lease: lease) == nil, "no signal yet")
            try await store.suspend(lease, wakeAt: nil, waitingFor: ["go", "stop"])
            let waiting = try await store.run(id: "s")
            try expect(waiting?.status == .waiting && waiting?.waitingFor == ["go", "stop"], "the run waits for its signals")
            try expect(try await store.claimNextRunnable(owner: otherOwner, leaseDuration: .seconds(5), workflows: nil) == nil, "a run waiting for a signal is not runnable")
            let other = try await subject.openAnother()
            try await other.signal(runID: "s", name: "go", payload: ["approved": true])
            try expect(try await store.run(id: "s")?.status == .pending, "the signal makes the run runnable")
            guard let (next, record) = try await store.claimNextRunnable(owner: owner, leaseDuration: .seconds(5), workflows: nil) else {
                throw Failure(description: "the signalled run is runnable")
            }
            try expect(record.id == "s", "the signalled run is claimed")
            lease = next
            let payload = try await store.takeSignal(runID: "s", name: "go", journaling: signalEntry("s", 0, "signal:go"), lease: lease)
            try expect(payload == ["approved": true], "the payload is delivered")
            try expect(try await store.journal(runID: "s").first?.result == ["approved": true], "taking a signal journals it")
            try expect(try await store.takeSignal(runID: "s", name: "go", journaling: signalEntry("s", 1, "signal:go"), lease: lease) == nil, "a signal is taken once")
            try await store.signal(runID: "s", name: "early", payload: 1)
            try await store.suspend(lease, wakeAt: nil, waitingFor: ["early"])
            try expect(try await store.run(id: "s")?.status == .pending, "a signal sent before the wait leaves the run runnable")
        },
        Check(name: "a due timer makes a waiting run runnable") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "t-later", workflow: "w", input: nil))
            _ = try await store.createRun(NewRun(id: "t-due", workflow: "w", input: nil))
            let later = try await claimed(store, "t-later")
            try await store.suspend(later, wakeAt: Date().addingTimeInterval(3_600), waitingFor: [])
            let due = try await claimed(store, "t-due")
            try await store.suspend(due, wakeAt: Date().addingTimeInterval(-1), waitingFor: [])
            guard let (_, record) = try await store.claimNextRunnable(owner: otherOwner, leaseDuration: .seconds(5), workflows: nil) else {
                throw Failure(description: "the due run is runnable")
            }
            try expect(record.id == "t-due", "the due run is claimed, not \(record.id)")
            try expect(try await store.claimNextRunnable(owner: otherOwner, leaseDuration: .seconds(5), workflows: nil) == nil, "the run due in an hour is not runnable")
        },
        Check(name: "claiming the next runnable run respects the workflows a process knows") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "w-a", workflow: "a", input: nil))
            try expect(try await store.claimNextRunnable(owner: owner, leaseDuration: .seconds(5), workflows: ["b"]) == nil, "a run of an unknown workflow is left alone")
            let claimedA = try await store.claimNextRunnable(owner: owner, leaseDuration: .seconds(5), workflows: ["a"])
            try expect(claimedA?.1.id == "w-a", "a run of a known workflow is claimed")
        },
        Check(name: "runs of unknown workflows never hide a runnable known one") { subject in
            let store = subject.store
            for index in 0..<100 { _ = try await store.createRun(NewRun(id: "unknown-\(index)", workflow: "elsewhere", input: nil)) }
            _ = try await store.createRun(NewRun(id: "known", workflow: "here", input: nil))
            let claimed = try await store.claimNextRunnable(owner: owner, leaseDuration: .seconds(5), workflows: ["here"])
            try expect(claimed?.1.id == "known", "the run of the known workflow is claimed behind 100 older ones of another")
        },
        Check(name: "an approval's signal cannot be sent, so a forged one wakes nothing") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "forged", workflow: "w", input: nil))
            let lease = try await claimed(store, "forged")
            try await store.suspend(lease, wakeAt: nil, waitingFor: ["approval:forged:1"])
            try await expectStoreError(.invalidState, "a signal named like an approval") {
                try await store.signal(runID: "forged", name: "approval:forged:1", payload: true)
            }
            try expect(try await store.run(id: "forged")?.status == .waiting, "the run still waits for the decision")
            try expect(try await store.claimNextRunnable(owner: otherOwner, leaseDuration: .seconds(5), workflows: nil) == nil, "nothing is runnable")
        },
        Check(name: "a decision that lands before the timeout closes the approval stands") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "late", workflow: "w", input: nil))
            let lease = try await claimed(store, "late")
            let request = ApprovalRequest(id: "late:1", kind: .toolCall, runID: "late", sequence: 1, tool: "t", arguments: "{}", reason: "r", expiresAt: Date())
            _ = try await store.requestApproval(request, lease: lease)
            _ = try await subject.openAnother().decideApproval(id: "late:1", decision: .approve, by: "alice")
            let closed = try await store.closeApproval(id: "late:1", as: .expired, lease: lease)
            try expect(closed.status == .approved && closed.decidedBy == "alice", "closing returns the decision, not an expiry")
            try expect(try await store.approval(id: "late:1")?.status == .approved, "the decision is kept")
        },
        Check(name: "cancelling fences off the owner") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "c", workflow: "w", input: nil))
            let lease = try await claimed(store, "c")
            let cancelled = try await subject.openAnother().cancel(runID: "c")
            try expect(cancelled.status == .cancelled, "the run is cancelled")
            try await expectStoreError(.leaseLost, "the owner's next write") { try await store.append(entry("c", 0), lease: lease) }
            try expect(try await store.cancel(runID: "c").status == .cancelled, "cancelling again changes nothing")
            try await expectAnyError("a signal to a cancelled run") { try await store.signal(runID: "c", name: "x", payload: nil) }
        },
        Check(name: "a fork copies the journal before its position") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "f", workflow: "w", input: ["topic": "x"], tenant: "t"))
            let lease = try await claimed(store, "f")
            for sequence in 0..<5 { try await store.append(entry("f", sequence, result: .number(Double(sequence))), lease: lease) }
            try await store.finish(lease, status: .completed, output: "all", failure: nil)
            let fork = try await store.fork(runID: "f", atSequence: 3, newRunID: "f2")
            try expect(fork.status == .pending && fork.parentRunID == "f" && fork.forkedAt == 3 && fork.input == ["topic": "x"] && fork.tenant == "t", "the fork is a pending copy of the run")
            let journal = try await store.journal(runID: "f2")
            try expect(journal.map(\.sequence) == [0, 1, 2] && journal.map(\.result) == [0, 1, 2], "the fork holds entries 0…2")
            try expect(try await store.journal(runID: "f").count == 5, "the original is unchanged")
            try await expectStoreError(.invalidState, "forking past the end") { try await store.fork(runID: "f", atSequence: 9, newRunID: "f3") }
            try await expectStoreError(.conflict, "forking onto a taken id") { try await store.fork(runID: "f", atSequence: 1, newRunID: "f2") }
            try await expectStoreError(.notFound, "forking a missing run") { try await store.fork(runID: "nope", atSequence: 0, newRunID: "f4") }
        },
        Check(name: "a fork never keeps an approval without the call it approved") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "g", workflow: "w", input: nil))
            let lease = try await claimed(store, "g")
            let names = ["model-1", "policy-transfer-c1", "approval-transfer-g:2", "tool-transfer-c1", "model-2"]
            for (sequence, name) in names.enumerated() {
                var step = entry("g", sequence)
                step.name = name
                try await store.append(step, lease: lease)
            }
            try await store.finish(lease, status: .completed, output: "done", failure: nil)
            // Between the approval and its call: the fork starts at the approval, to ask again.
            let between = try await store.fork(runID: "g", atSequence: 3, newRunID: "g-between")
            try expect(between.forkedAt == 2, "the fork starts at the approval, got \(String(describing: between.forkedAt))")
            try expect(try await store.journal(runID: "g-between").map(\.name) == ["model-1", "policy-transfer-c1"], "the approval is not copied")
            // After the call, the approval goes with it.
            let after = try await store.fork(runID: "g", atSequence: 4, newRunID: "g-after")
            let afterJournal = try await store.journal(runID: "g-after")
            try expect(after.forkedAt == 4 && afterJournal.count == 4, "an approval copied with its call stays")
        },
        Check(name: "scoped steps have their own positions, and a fork keeps the scopes opened before it") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "sc", workflow: "w", input: nil))
            let lease = try await claimed(store, "sc")
            try await store.append(entry("sc", 0), lease: lease)
            // Two branches opened after step 0, each with positions from 0, written interleaved.
            for sequence in 0..<3 {
                try await store.append(scoped("sc", "fan/a", sequence, anchor: 1), lease: lease)
                try await store.append(scoped("sc", "fan/b", sequence, anchor: 1), lease: lease)
            }
            try await store.append(entry("sc", 1), lease: lease)
            try await store.append(scoped("sc", "late", 0, anchor: 2), lease: lease)
            try await store.append(scoped("sc", "late", 1, anchor: 2, name: "approval-send-sc:late/1"), lease: lease)
            try await store.append(entry("sc", 2), lease: lease)
            try await expectStoreError(.duplicateStep, "a second completion at a scoped position") {
                try await store.append(scoped("sc", "fan/a", 1, anchor: 1), lease: lease)
            }
            let journal = try await store.journal(runID: "sc")
            try expect(journal.count == 11, "every scoped step is kept, got \(journal.count)")
            try expect(
                journal.filter { $0.scope == "fan/b" }.map(\.result) == ["fan/b/0", "fan/b/1", "fan/b/2"] && journal.filter { $0.scope == "fan/b" }.allSatisfy { $0.scopeAnchor == 1 },
                "a scope's entries keep their scope, positions and anchor")
            try await store.finish(lease, status: .completed, output: nil, failure: nil)
            let early = try await store.fork(runID: "sc", atSequence: 1, newRunID: "sc-early")
            let earlyJournal = try await store.journal(runID: "sc-early")
            try expect(early.forkedAt == 1 && earlyJournal.map(\.scope) == [""], "a fork before the branches opened keeps none of them")
            let between = try await store.journal(runID: try await store.fork(runID: "sc", atSequence: 2, newRunID: "sc-between").id)
            try expect(
                between.filter { $0.scope.hasPrefix("fan/") }.count == 6 && between.filter { $0.scope.isEmpty }.count == 2 && !between.contains { $0.scope == "late" },
                "a fork keeps the branches opened before its position and not those opened at it")
            let later = try await store.journal(runID: try await store.fork(runID: "sc", atSequence: 3, newRunID: "sc-later").id)
            try expect(later.filter { $0.scope == "late" }.map(\.sequence) == [0], "a scope's approval is not kept without its call")
        },
        Check(name: "a failed run is a dead letter until reopened, and costs add up the metered steps") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "c1", workflow: "w", input: nil, tenant: "acme"))
            _ = try await store.createRun(NewRun(id: "c2", workflow: "w", input: nil))
            func metered(_ runID: String, _ sequence: Int, model: String, cost: Double?, scope: String = "") -> JournalEntry {
                var step = entry(runID, sequence)
                step.kind = .model
                step.metering = StepMetering(model: model, usage: Usage(inputTokens: 100, cachedInputTokens: 10, outputTokens: 20), costUSD: cost)
                step.scope = scope
                return step
            }
            let first = try await claimed(store, "c1")
            try await store.append(metered("c1", 0, model: "openai:a", cost: 0.5), lease: first)
            try await store.append(metered("c1", 0, model: "openai:b", cost: 0.25, scope: "branch"), lease: first)
            try await store.append(entry("c1", 1), lease: first)
            try await store.finish(first, status: .failed, output: nil, failure: RunFailure(code: "server", message: "down", sequence: 2))
            let second = try await claimed(store, "c2")
            try await store.append(metered("c2", 0, model: "openai:a", cost: nil), lease: second)
            try await store.finish(second, status: .completed, output: "ok", failure: nil)

            let letters = try await store.deadLetters(includeResolved: false, limit: 10)
            try expect(letters.map(\.runID) == ["c1"], "the failed run is the one dead letter, got \(letters.map(\.runID))")
            try expect(letters.first?.failure.code == "server" && letters.first?.journalLength == 3 && letters.first?.tenant == "acme", "the dead letter keeps the failure, the journal's length and the tenant: \(String(describing: letters.first))")
            let byModel = try await store.costs(CostQuery(groupBy: .model))
            try expect(byModel.map(\.key) == ["openai:a", "openai:b"], "costs by model, dearest first: \(byModel.map(\.key))")
            try expect(byModel.first?.steps == 2 && byModel.first?.costUSD == 0.5 && byModel.first?.unpricedSteps == 1, "an unpriced step counts as a step and nothing more: \(String(describing: byModel.first))")
            try expect(byModel.first?.usage == Usage(inputTokens: 200, cachedInputTokens: 20, outputTokens: 40), "usage adds up")
            let byRun = try await store.costs(CostQuery(groupBy: .run))
            try expect(byRun.first { $0.key == "c1" }?.costUSD == 0.75, "a run's cost counts its scoped steps")
            let byTenant = try await store.costs(CostQuery(groupBy: .tenant, tenant: "acme"))
            try expect(byTenant.map(\.key) == ["acme"] && byTenant.first?.steps == 2, "costs of one tenant: \(byTenant)")
            let today = try await store.costs(CostQuery(groupBy: .day, since: Date().addingTimeInterval(-3_600)))
            try expect(today.count == 1 && today.first?.steps == 3, "costs by day since an hour ago: \(today)")

            _ = try await store.reopen(runID: "c1")
            try expect(try await store.deadLetters(includeResolved: false, limit: 10).isEmpty, "reopening resolves the dead letter")
            let all = try await store.deadLetters(includeResolved: true, limit: 10)
            try expect(all.map(\.runID) == ["c1"] && all.first?.resolvedAt != nil, "a resolved dead letter is kept, resolved")
        },
        Check(name: "runs are listed newest first and filtered") { subject in
            let store = subject.store
            for index in 0..<4 {
                _ = try await store.createRun(NewRun(id: "list-\(index)", workflow: index % 2 == 0 ? "even" : "odd", input: nil, tenant: "t\(index % 2)"))
                try await Task.sleep(for: .milliseconds(5))
            }
            let lease = try await claimed(store, "list-0")
            try await store.finish(lease, status: .completed, output: nil, failure: nil)
            try expect(try await store.listRuns(RunQuery()).map(\.id) == ["list-3", "list-2", "list-1", "list-0"], "newest first")
            try expect(try await store.listRuns(RunQuery(workflow: "even")).map(\.id) == ["list-2", "list-0"], "by workflow")
            try expect(try await store.listRuns(RunQuery(statuses: [.completed])).map(\.id) == ["list-0"], "by status")
            try expect(try await store.listRuns(RunQuery(tenant: "t1", limit: 1)).map(\.id) == ["list-3"], "by tenant, limited")
            var pages: [[String]] = []
            var cursor: RunCursor?
            repeat {
                let page = try await subject.openAnother().listRuns(RunQuery(limit: 3, after: cursor.flatMap { RunCursor(token: $0.token) }))
                pages.append(page.map(\.id))
                cursor = page.count == 3 ? page.last.map(RunCursor.init) : nil
            } while cursor != nil && pages.count < 5
            try expect(pages == [["list-3", "list-2", "list-1"], ["list-0"]], "pages after a cursor's token: \(pages)")
        },
        Check(name: "concurrent writers claim each run exactly once") { subject in
            let store = subject.store
            let count = 40
            for index in 0..<count { _ = try await store.createRun(NewRun(id: "cc-\(index)", workflow: "w", input: nil)) }
            let second = try await subject.openAnother()
            let claims = try await withThrowingTaskGroup(of: [String].self) { group in
                for (handle, owner) in [(store, owner), (second, otherOwner)] {
                    group.addTask {
                        var mine: [String] = []
                        while let (lease, record) = try await handle.claimNextRunnable(owner: owner, leaseDuration: .seconds(60), workflows: nil) {
                            try await handle.append(entry(record.id, 0), lease: lease)
                            try await handle.finish(lease, status: .completed, output: nil, failure: nil)
                            mine.append(record.id)
                        }
                        return mine
                    }
                }
                var all: [String] = []
                for try await mine in group { all += mine }
                return all
            }
            try expect(claims.count == count && Set(claims).count == count, "each of \(count) runs claimed exactly once, got \(claims.count) claims of \(Set(claims).count) runs")
            let completed = try await store.listRuns(RunQuery(statuses: [.completed], limit: 1_000)).count
            try expect(completed == count, "all runs completed, got \(completed)")
        },
        Check(name: "approvals are requested idempotently, decided once by the store, and wake their run") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "ap", workflow: "w", input: nil))
            let lease = try await claimed(store, "ap")
            let request = ApprovalRequest(id: "ap:2", kind: .toolCall, runID: "ap", sequence: 2, tool: "transfer", arguments: #"{"amount":5}"#, reason: "money")
            let other = ApprovalRequest(id: "ap:5", kind: .toolCall, runID: "ap", sequence: 5, tool: "transfer", arguments: #"{"amount":7}"#, reason: "money")
            let first = try await store.requestApproval(request, lease: lease)
            try expect(first.status == .pending && first.decision == nil && first.request.arguments == request.arguments, "a new request is pending")
            let again = try await store.requestApproval(request, lease: lease)
            try expect(again.status == .pending && again.request.requestedAt == first.request.requestedAt, "asking again returns the same request")
            _ = try await store.requestApproval(other, lease: lease)
            try await store.suspend(lease, wakeAt: nil, waitingFor: [ApprovalRecord.signalName(for: "ap:2"), ApprovalRecord.signalName(for: "ap:5")])

            // A raw signal of the same name is refused and approves nothing: the record stays pending.
            try await expectStoreError(.invalidState, "a signal named like an approval") {
                try await store.signal(runID: "ap", name: ApprovalRecord.signalName(for: "ap:5"), payload: ["decision": "approve"])
            }
            try expect(try await store.approval(id: "ap:5")?.status == .pending, "a signal cannot approve")

            let decided = try await subject.openAnother().decideApproval(id: "ap:2", decision: .approveWithArguments(#"{"amount":4}"#), by: "alice")
            try expect(decided.status == .approved && decided.decidedBy == "alice" && decided.decidedAt != nil, "the decision records who and when")
            try expect(decided.decision == .approveWithArguments(#"{"amount":4}"#), "edited arguments are kept")
            try expect(try await store.run(id: "ap")?.status == .pending, "a decision makes its waiting run runnable")
            try await expectStoreError(.invalidState, "a second decision") { try await store.decideApproval(id: "ap:2", decision: .deny(reason: "no"), by: "mallory") }
            try expect(try await store.approval(id: "ap:2")?.decidedBy == "alice", "the second decision changed nothing")
            try await expectStoreError(.notFound, "deciding a missing approval") { try await store.decideApproval(id: "nope", decision: .approve, by: "x") }
            try await expectStoreError(.invalidState, "edited arguments that are not an object") {
                try await store.decideApproval(id: "ap:5", decision: .approveWithArguments("[1]"), by: "x")
            }
            try expect(try await store.approvals(runID: "ap", status: .pending).map(\.request.id) == ["ap:5"], "listed by status")
            try expect(try await store.approvals(runID: nil, status: nil).map(\.request.id) == ["ap:2", "ap:5"], "all, oldest first")

            let relaunched = try await claimed(store, "ap")
            try await store.closeApproval(id: "ap:5", as: .expired, lease: relaunched)
            try expect(try await store.approval(id: "ap:5")?.status == .expired, "closed as expired")
            try await expectStoreError(.invalidState, "deciding an expired approval") { try await store.decideApproval(id: "ap:5", decision: .approve, by: "late") }
            let audit = try await store.auditLog(runID: "ap", tool: "transfer", limit: nil)
            try expect(audit.map(\.record.action) == [.approval] && audit.first?.record.actor == "alice", "the decision is in the audit log")
        },
        Check(name: "approval writes are fenced by the run's lease") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "apz", workflow: "w", input: nil))
            let zombie = try await claimed(store, "apz", lease: .milliseconds(30))
            try await Task.sleep(for: .milliseconds(80))
            _ = try await claimed(try await subject.openAnother(), "apz", owner: otherOwner)
            let request = ApprovalRequest(id: "apz:0", kind: .toolCall, runID: "apz", sequence: 0, tool: "t", arguments: "{}", reason: "r")
            try await expectStoreError(.leaseLost, "a zombie's approval request") { try await store.requestApproval(request, lease: zombie) }
            try expect(try await store.approval(id: "apz:0") == nil, "nothing was recorded")
        },
        Check(name: "the audit log chains its entries and commits them with their journal entry") { subject in
            let store = subject.store
            _ = try await store.createRun(NewRun(id: "au", workflow: "w", input: nil))
            let lease = try await claimed(store, "au")
            let policy = AuditRecord(runID: "au", step: 0, tool: "search", action: .policy, argumentsDigest: AuditRecord.digest(ofArguments: #"{"q":"x"}"#), decision: "allowed", actor: "policy")
            let call = AuditRecord(runID: "au", step: 1, tool: "search", action: .call, argumentsDigest: policy.argumentsDigest, decision: "allowed", actor: "agent", outcome: "ok", costUSD: 0.002)
            try await store.append(entry("au", 0), lease: lease, effects: StepEffects(audit: [policy]))
            try await store.append(entry("au", 1), lease: lease, effects: StepEffects(audit: [call]))
            try await subject.openAnother().appendAudit([AuditRecord(runID: nil, step: nil, tool: nil, action: .approval, argumentsDigest: nil, decision: "policy changed", actor: "ops")])
            let entries = try await store.auditLog(runID: nil, tool: nil, limit: nil)
            try expect(entries.map(\.sequence) == [1, 2, 3], "entries are numbered in order, got \(entries.map(\.sequence))")
            try expect(entries.map(\.record) == [policy, call, AuditRecord(runID: nil, step: nil, tool: nil, action: .approval, argumentsDigest: nil, decision: "policy changed", actor: "ops")], "entries keep their records")
            try expect(entries[0].previousHash == AuditEntry.genesis && entries[1].previousHash == entries[0].hash && entries[2].previousHash == entries[1].hash, "each entry names the one before")
            try expect(try await store.auditLog(runID: "au", tool: "search", limit: 1).map(\.sequence) == [1], "filtered and limited")
            let verification = try await store.verifyAuditLog()
            try expect(verification.isIntact && verification.entries == 3 && verification.headHash == entries[2].hash, "an untouched log verifies")

            // A write refused by the lease adds no audit entry.
            try await store.finish(lease, status: .completed, output: nil, failure: nil)
            try await expectStoreError(.leaseLost, "an append after finishing") { try await store.append(entry("au", 2), lease: lease, effects: StepEffects(audit: [call])) }
            try expect(try await store.auditLog(runID: nil, tool: nil, limit: nil).count == 3, "the refused append audited nothing")
        },
    ]

    static func expectAnyError(_ what: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            return
        }
        throw Failure(description: "\(what): expected an error, but it succeeded")
    }
}

extension Optional {
    /// The value, or a conformance failure saying what was missing.
    func orFail(_ what: String) throws -> Wrapped {
        guard let self else { throw RunStoreConformance.Failure(description: "\(what): got nothing") }
        return self
    }
}
