import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Synchronization
import Testing

/// Counts how often step bodies really ran.
final class Counter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func hit(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    subscript(name: String) -> Int { counts.withLock { $0[name] ?? 0 } }
    var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom" }
}

/// Three steps; fails after step `failAfter` while `failing` says so (a crash stand-in).
struct ThreeSteps: Workflow {
    let name = "three-steps"
    let counter: Counter
    let failing: Locked<Int?>

    init(counter: Counter, failAfter: Int? = nil) {
        self.counter = counter
        failing = Locked(failAfter)
    }

    func run(_ input: String, context: RunContext) async throws -> [String] {
        var results: [String] = []
        for index in 1...3 {
            results.append(try await context.step("step-\(index)") {
                counter.hit("step-\(index)")
                return "\(input)-\(index)"
            })
            if failing.withLock({ $0 }) == index { throw Boom() }
        }
        return results
    }
}

@Suite(.timeLimit(.minutes(5))) struct DurableRuntimeTests {
    func runtime(_ store: any RunStore, _ workflows: [AnyWorkflow], configure: (inout DurableRuntime.Configuration) -> Void = { _ in }) -> DurableRuntime {
        var configuration = DurableRuntime.Configuration()
        configure(&configuration)
        return DurableRuntime(store: store, workflows: workflows, configuration: configuration)
    }

    @Test func stepsJournalOnceAndReplayWithoutRunning() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let counter = Counter()
        let workflow = ThreeSteps(counter: counter, failAfter: 2)
        let keel = runtime(store, [AnyWorkflow(workflow)])
        let failed = try await keel.start(workflow, input: "x", runID: "r")
        #expect(failed.status == .failed)
        #expect(failed.failure?.code == "workflow_error")
        #expect(try await store.journal(runID: "r").map(\.name) == ["step-1", "step-2"])

        workflow.failing.withLock { $0 = nil }
        _ = try await store.reopen(runID: "r")
        let resumed = try await keel.run("r")
        #expect(resumed.status == .completed)
        #expect(resumed.output == ["x-1", "x-2", "x-3"])
        #expect(counter["step-1"] == 1)
        #expect(counter["step-2"] == 1)
        #expect(counter["step-3"] == 1)
        // A finished run is returned as it is.
        #expect(try await keel.run("r").output == ["x-1", "x-2", "x-3"])
        #expect(counter.total == 3)
    }

    @Test func aRunIsAcceptedBeforeAnyWork() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keel = runtime(store, [AnyWorkflow(ThreeSteps(counter: Counter()))])
        let record = try await keel.submit(ThreeSteps(counter: Counter()), input: "x", runID: "accepted")
        #expect(record.status == .pending)
        #expect(try await store.run(id: "accepted")?.input == "x")
        #expect(try await store.journal(runID: "accepted").isEmpty)
    }

    @Test func askingForADifferentStepIsANonDeterminismError() async throws {
        struct Renamed: Workflow {
            let name = "three-steps"
            func run(_ input: String, context: RunContext) async throws -> [String] {
                [try await context.step("step-1") { "a" }, try await context.step("renamed-step") { "b" }]
            }
        }
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let counter = Counter()
        _ = try await runtime(store, [AnyWorkflow(ThreeSteps(counter: counter, failAfter: 2))]).start(ThreeSteps(counter: counter, failAfter: 2), input: "x", runID: "n")
        _ = try await store.reopen(runID: "n")
        let record = try await runtime(store, [AnyWorkflow(Renamed())]).run("n")
        #expect(record.status == .failed)
        #expect(record.failure?.code == "non_determinism")
        #expect(record.failure?.sequence == 1)
        #expect(record.failure?.message.contains("holds step 1 as 'step-2', but the workflow asked for 'renamed-step'") == true)
        #expect(try await store.journal(runID: "n").count == 2)  // nothing was overwritten
    }

    struct Sleeper: Workflow {
        let name = "sleeper"
        func run(_ input: Int, context: RunContext) async throws -> String {
            let before = try await context.step("before") { "a" }
            try await context.sleep(for: .milliseconds(input))
            let after = try await context.step("after") { "b" }
            return before + after
        }
    }

    /// Runs due runs until one ran or `limit` passed; returns how many ran.
    func runWhenDue(_ keel: DurableRuntime, limit: Duration = .seconds(10)) async throws -> Int {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let count = try await keel.runUntilIdle()
            if count > 0 { return count }
            try await Task.sleep(for: .milliseconds(50))
        }
        return 0
    }

    @Test func aLongSleepPutsTheRunToWaitAndItsTimerWakesIt() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keel = runtime(store, [AnyWorkflow(Sleeper())]) { $0.inlineSleepLimit = .zero }
        let submitted = Date()
        let waiting = try await keel.start(Sleeper(), input: 1_500, runID: "sleepy")
        #expect(waiting.status == .waiting)
        let wakeAt = try #require(waiting.wakeAt)
        #expect(wakeAt.timeIntervalSince(submitted) >= 1.5)
        if wakeAt.timeIntervalSinceNow > 0.2 {
            #expect(try await keel.runUntilIdle() == 0)  // not due yet
        }
        // Any process with the workflow can pick it up: here a new runtime, as after a restart.
        #expect(try await runWhenDue(runtime(store, [AnyWorkflow(Sleeper())])) == 1)
        #expect(Date() >= wakeAt)
        let done = try await store.run(id: "sleepy")
        #expect(done?.status == .completed)
        #expect(done?.output == "ab")
        #expect(try await store.journal(runID: "sleepy").map(\.kind) == [.custom, .sleep, .custom])
    }

    @Test func aShortSleepHappensInProcess() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let start = ContinuousClock.now
        let done = try await runtime(store, [AnyWorkflow(Sleeper())]).start(Sleeper(), input: 50, runID: "nap")
        #expect(done.status == .completed)
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    struct Approval: Workflow {
        let name = "approval"
        func run(_ input: Int?, context: RunContext) async throws -> String {
            let prepared = try await context.step("prepare") { "draft" }
            if let timeoutMilliseconds = input {
                let decision = try await context.waitForSignal("decision", as: String.self, timeout: .milliseconds(timeoutMilliseconds))
                return prepared + ":" + (decision ?? "timed out")
            }
            return prepared + ":" + (try await context.waitForSignal("decision", as: String.self))
        }
    }

    @Test func aRunWaitsForASignalAcrossProcesses() async throws {
        let path = try temporaryStorePath()
        let store = try SQLiteRunStore(path: path)
        let waiting = try await runtime(store, [AnyWorkflow(Approval())]).start(Approval(), input: nil, runID: "a")
        #expect(waiting.status == .waiting)
        #expect(waiting.waitingFor == ["decision"])
        try await SQLiteRunStore(path: path).signal(runID: "a", name: "decision", payload: "approved")
        let other = runtime(try SQLiteRunStore(path: path), [AnyWorkflow(Approval())])
        #expect(try await other.runUntilIdle() == 1)
        #expect(try await store.run(id: "a")?.output == "draft:approved")
    }

    @Test func aSignalWaitCanTimeOut() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keel = runtime(store, [AnyWorkflow(Approval())])
        // Ten seconds: long enough that a loaded machine starts the run before it times out.
        let waiting = try await keel.start(Approval(), input: 10_000, runID: "t")
        #expect(waiting.status == .waiting)
        #expect(waiting.wakeAt != nil)
        #expect(try await runWhenDue(keel, limit: .seconds(30)) == 1)
        #expect(try await store.run(id: "t")?.output == "draft:timed out")
    }

    struct Payment: Workflow {
        let name = "payment"
        let keys: Locked<[String]>
        let policy: InDoubtPolicy
        func run(_ input: Int, context: RunContext) async throws -> String {
            try await context.sideEffect("charge", inDoubt: policy) { key in
                keys.withLock { $0.append(key) }
                return "charged \(input)"
            }
        }
    }

    /// A run whose side-effecting step 0 was journaled as started and never finished: a crash.
    func crashedPayment(_ store: SQLiteRunStore, id: String) async throws {
        _ = try await store.createRun(NewRun(id: id, workflow: "payment", input: 5))
        guard case .claimed(let lease, _) = try await store.claim(runID: id, owner: RunOwner(id: "gone/999999/x"), leaseDuration: .milliseconds(1)) else {
            Issue.record("could not claim")
            return
        }
        try await store.append(
            JournalEntry(runID: id, sequence: 0, name: "charge", kind: .tool, status: .started, idempotencyKey: "\(id):0", isSideEffecting: true, startedAt: Date()),
            lease: lease)
        try await Task.sleep(for: .milliseconds(10))
    }

    @Test func aSideEffectInDoubtFailsTheRunByDefault() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        try await crashedPayment(store, id: "pay")
        let workflow = Payment(keys: Locked([]), policy: .fail)
        let record = try await runtime(store, [AnyWorkflow(workflow)]).run("pay")
        #expect(record.status == .failed)
        #expect(record.failure?.code == "in_doubt")
        #expect(record.failure?.message.contains("idempotency key pay:0") == true)
        #expect(workflow.keys.withLock { $0 }.isEmpty)  // the charge did not run again
    }

    @Test func aSideEffectInDoubtIsRetriedWithTheSameKey() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        try await crashedPayment(store, id: "pay")
        let workflow = Payment(keys: Locked([]), policy: .retry)
        let record = try await runtime(store, [AnyWorkflow(workflow)]).run("pay")
        #expect(record.status == .completed)
        #expect(workflow.keys.withLock { $0 } == ["pay:0"])
        let entry = try #require(try await store.journal(runID: "pay").first)
        #expect(entry.attempts == 2)
        #expect(entry.idempotencyKey == "pay:0")
    }

    /// An approved retry of a step in doubt is itself cut short after its effect: the next resume
    /// asks again (a new approval for the new attempt) instead of running on the old approval.
    @Test func eachAttemptInDoubtAsksAgain() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        try await crashedPayment(store, id: "pay")
        let workflow = Payment(keys: Locked([]), policy: .askHuman)
        let waiting = try await runtime(store, [AnyWorkflow(workflow)]).run("pay")
        #expect(waiting.status == .waiting)
        let first = try #require(try await store.approvals(runID: "pay", status: .pending).first)
        _ = try await store.decideApproval(id: first.request.id, decision: .approve, by: "alice")
        // The approved retry: claim, the approval read back, the started entry — then the charge
        // runs, and the process dies before recording it.
        let dying = CrashingRunStore(store, writesBeforeCrash: 3)
        _ = try? await DurableRuntime(store: dying, workflows: [AnyWorkflow(workflow)], owner: CrashingRunStore.deadOwner("retry")).run("pay")
        #expect(dying.hasCrashed)
        #expect(workflow.keys.withLock { $0 } == ["pay:0"])
        let resumed = try await runtime(store, [AnyWorkflow(workflow)]).run("pay")
        #expect(resumed.status == .waiting, "the second attempt in doubt ran without a new approval")
        let second = try #require(try await store.approvals(runID: "pay", status: .pending).first)
        #expect(second.request.id != first.request.id)
        #expect(workflow.keys.withLock { $0 } == ["pay:0"])
    }

    struct Tantrum: Workflow {
        let name = "tantrum"
        func run(_ input: Int, context: RunContext) async throws -> Int {
            let value = try await context.step("value") { input }
            if value == 1 { throw CancellationError() }  // of its own accord: nobody cancelled it
            return value
        }
    }

    /// A CancellationError a workflow throws of its own accord fails that run; the worker's slot
    /// goes on to the next run (it used to end for good, and a worker of one slot stopped working).
    @Test func aWorkflowsOwnCancellationErrorDoesNotEndAWorkerSlot() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keel = runtime(store, [AnyWorkflow(Tantrum())])
        _ = try await keel.submit(Tantrum(), input: 1, runID: "tantrum")
        let worker = Task { await keel.work(concurrency: 1, pollInterval: .milliseconds(20)) }
        let deadline = ContinuousClock.now + .seconds(30)
        while try await store.run(id: "tantrum")?.status.isFinished != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await keel.submit(Tantrum(), input: 2, runID: "calm")
        while try await store.run(id: "calm")?.status.isFinished != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        worker.cancel()
        await worker.value
        #expect(try await store.run(id: "tantrum")?.status == .failed)
        #expect(try await store.run(id: "tantrum")?.failure?.code == "cancelled")
        #expect(try await store.run(id: "calm")?.output == 2)
    }

    @Test func aForkReplaysTheCopiedJournalAndRunsOn() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let counter = Counter()
        let keel = runtime(store, [AnyWorkflow(ThreeSteps(counter: counter))])
        _ = try await keel.start(ThreeSteps(counter: counter), input: "x", runID: "orig")
        #expect(counter.total == 3)
        _ = try await store.fork(runID: "orig", atSequence: 1, newRunID: "fork")
        let forked = try await keel.run("fork")
        #expect(forked.status == .completed)
        #expect(forked.output == ["x-1", "x-2", "x-3"])
        #expect(counter["step-1"] == 1)  // replayed from the copy
        #expect(counter["step-2"] == 2)
        #expect(counter["step-3"] == 2)
    }

    @Test func aCancelledRunStopsAtItsNextWrite() async throws {
        struct Slow: Workflow {
            let name = "slow"
            func run(_ input: Int, context: RunContext) async throws -> Int {
                for index in 0..<input {
                    _ = try await context.step("tick-\(index)") { try await Task.sleep(for: .milliseconds(20)); return index }
                }
                return input
            }
        }
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let keel = runtime(store, [AnyWorkflow(Slow())])
        _ = try await keel.submit(Slow(), input: 100, runID: "slow")
        async let finished = keel.run("slow")
        try await Task.sleep(for: .milliseconds(100))
        _ = try await store.cancel(runID: "slow")
        let record = try await finished
        #expect(record.status == .cancelled)
        #expect(try await store.journal(runID: "slow").count < 100)
    }

    @Test func aLiveOwnerKeepsOtherProcessesOut() async throws {
        let path = try temporaryStorePath()
        let store = try SQLiteRunStore(path: path)
        _ = try await store.createRun(NewRun(id: "held", workflow: "three-steps", input: "x"))
        guard case .claimed = try await store.claim(runID: "held", owner: RunOwner.currentProcess(), leaseDuration: .seconds(30)) else {
            Issue.record("could not claim")
            return
        }
        await #expect {
            _ = try await runtime(try SQLiteRunStore(path: path), [AnyWorkflow(ThreeSteps(counter: Counter()))]).run("held")
        } throws: { error in
            (error as? WorkflowError)?.code == .busy
        }
    }
}
