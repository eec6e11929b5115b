import Benchmark
import BenchSupport
import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTesting

/// `input` sections, each a 50 ms call (the model's latency) and then a journaled result.
struct LatencyBound: Workflow {
    let name = "latency-bound"
    func run(_ input: Int, context: RunContext) async throws -> Int {
        for index in 0..<input {
            _ = try await context.step("section-\(index + 1)") {
                try await Task.sleep(for: .milliseconds(50))
                return "Section \(index + 1) text of a typical length for one step."
            }
        }
        return input
    }
}

/// A workflow of `count` small steps.
struct Steps: Workflow {
    let name = "steps"
    func run(_ input: Int, context: RunContext) async throws -> Int {
        for index in 0..<input {
            _ = try await context.step("step-\(index)") { "Section \(index) text of a typical length for one step." }
        }
        return input
    }
}

/// The cluster of this benchmark process, with fsync on (as a real database runs).
actor Cluster {
    static let shared = Cluster()
    private var cluster: PostgresTestCluster?

    func database() async throws -> String {
        // KEEL_BENCH_FSYNC=off measures without the disk's flush latency.
        let cluster: PostgresTestCluster
        if let existing = self.cluster {
            cluster = existing
        } else {
            cluster = try await PostgresTestCluster.start(fsync: ProcessInfo.processInfo.environment["KEEL_BENCH_FSYNC"] != "off")
        }
        self.cluster = cluster
        return try await cluster.createDatabase("bench")
    }
}

/// Runs `runs` latency-bound runs of `sections` sections on `workers` workers (each its own store
/// connection pool and owner, running `concurrency` runs at once); returns the seconds taken.
func scaleWorkload(workers: Int, concurrency: Int, runs: Int, sections: Int) async throws -> Double {
    let url = try await Cluster.shared.database()
    let submitter = try await PostgresRunStore.connect(url)
    for number in 0..<runs {
        _ = try await submitter.createRun(NewRun(id: "run-\(number)", workflow: "latency-bound", input: .number(Double(sections))))
    }
    let stores = try await withThrowingTaskGroup(of: PostgresRunStore.self) { group in
        for _ in 0..<workers { group.addTask { try await PostgresRunStore.connect(url) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    let stopping = Locked(false)
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (index, store) in stores.enumerated() {
            let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(LatencyBound())], owner: RunOwner(id: "bench/worker-\(index)/\(UUID().uuidString.prefix(6))"))
            group.addTask { await runtime.work(concurrency: concurrency, pollInterval: .milliseconds(20), isStopping: { stopping.value }) }
        }
        group.addTask {
            // Done when no run is left to do (a cheap query, so that watching does not slow the workers).
            while try await !submitter.listRuns(RunQuery(statuses: [.pending, .running, .waiting], limit: 1)).isEmpty {
                try await Task.sleep(for: .milliseconds(20))
            }
            stopping.withLock { $0 = true }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    for store in stores { await store.close() }
    await submitter.close()
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

let benchmarks: @Sendable () -> Void = {
    Benchmark("Journaled step, PostgreSQL, fsync on (1,000 steps)", configuration: .init(
        metrics: [.wallClock, .cpuTotal, .throughput], scalingFactor: .kilo, maxDuration: .seconds(10), maxIterations: 20)
    ) { benchmark in
        let store = try await PostgresRunStore.connect(try await Cluster.shared.database())
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(Steps())])
        var runs = 0
        benchmark.startMeasurement()
        for _ in 0..<benchmark.scaledIterations.count / 1_000 {
            _ = try await runtime.start(Steps(), input: 1_000, runID: "run-\(runs)")
            runs += 1
        }
        benchmark.stopMeasurement()
        await store.close()
    }

    let steps = BenchmarkMetric.custom("sections per second", polarity: .prefersLarger, useScalingFactor: false)
    for workers in [1, 2, 4] {
        Benchmark("\(workers) worker(s) × 4 runs at once, 128 runs × 10 sections of 50 ms", configuration: .init(
            metrics: [.wallClock, steps], maxDuration: .seconds(120), maxIterations: 3)
        ) { benchmark in
            benchmark.startMeasurement()
            let seconds = try await scaleWorkload(workers: workers, concurrency: 4, runs: 128, sections: 10)
            benchmark.stopMeasurement()
            benchmark.measurement(steps, Int((1_280 / seconds).rounded()))
        }
    }
}
