import Benchmark
import Foundation
import KeelApp
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite

/// A fresh store file in a temporary folder.
func freshStore() throws -> SQLiteRunStore {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keel-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return try SQLiteRunStore(path: folder.appendingPathComponent("keel.db").path)
}

/// Bytes the store file takes once its write-ahead log is checkpointed into it.
func storeBytes(_ store: SQLiteRunStore) -> Int {
    try? store.checkpoint()
    return (try? FileManager.default.attributesOfItem(atPath: store.path)[.size] as? Int) ?? 0
}

@Schema
struct Counter: Codable, Sendable {
    var topic: String
    var count: Int
}

/// One node that counts, in a cycle of `input` super-steps.
func countingGraph(_ superSteps: Int) throws -> CompiledGraph<Counter> {
    var graph = StateGraph(Counter.self)
    graph.addNode("count") { state, _ in try .set("count", state.count + 1) }
    graph.addEdge(START, "count")
    graph.addConditionalEdge(from: "count", targets: ["count", END]) { $0.count < superSteps ? "count" : END }
    return try graph.compile(GraphOptions(recursionLimit: superSteps))
}

/// The same number of bare journaled steps, each with a result the size of a super-step's.
struct BareSteps: Workflow {
    let name = "steps"
    func run(_ input: Int, context: RunContext) async throws -> Int {
        var count = 0
        for index in 0..<input {
            count = try await context.step("step \(index + 1)") { count + 1 }
        }
        return count
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(5))
    let perRun = 1_000

    // The pair the issue compares, one after the other in one process: a journaled step, and a
    // super-step of a one-node graph (the node's update merged, the route decided, the delta
    // journaled), both on SQLite (WAL, synchronous NORMAL).
    Benchmark("Bare journaled step, SQLite (1,000 a run)", configuration: .init(scalingFactor: .kilo, maxIterations: 20)) { benchmark in
        let store = try freshStore()
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(BareSteps())])
        var runs = 0
        benchmark.startMeasurement()
        for _ in 0..<benchmark.scaledIterations.count / perRun {
            _ = try await runtime.start(BareSteps(), input: perRun, runID: "run-\(runs)")
            runs += 1
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Super-step of a one-node graph, SQLite (1,000 a run)", configuration: .init(scalingFactor: .kilo, maxIterations: 20)) { benchmark in
        let store = try freshStore()
        let flow = GraphWorkflow("count", try countingGraph(perRun))
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(flow)])
        var runs = 0
        benchmark.startMeasurement()
        for _ in 0..<benchmark.scaledIterations.count / perRun {
            let record = try await runtime.start(flow, input: Counter(topic: "bench", count: 0), runID: "run-\(runs)")
            precondition(record.status == .completed)
            runs += 1
        }
        benchmark.stopMeasurement()
    }

    // What the research → draft → review graph journals per super-step, offline (the editor
    // model): the super-step entries (the deltas), every entry of the run (the nodes' model and
    // tool steps too), and the store's pages.
    let bytes: [BenchmarkMetric] = [
        "delta bytes per super-step", "largest delta bytes", "journal bytes per super-step", "store bytes per super-step",
    ].map { .custom($0, polarity: .prefersSmaller, useScalingFactor: false) }
    Benchmark("Journal of the research → draft → review graph, per super-step", configuration: .init(metrics: [.wallClock] + bytes, maxIterations: 3)) {
        benchmark in
        let store = try freshStore()
        let workflow = ResearchReviewWorkflow()
        let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        let before = storeBytes(store)
        let input = ResearchReviewWorkflow.Input(topic: "customer churn", model: ModelSpec(spec: "editor"))
        let record = try await runtime.start(workflow, input: input, runID: "graph")
        precondition(record.status == .completed)
        let superSteps = try record.output?.decode(as: GraphResult<ResearchReviewState>.self).superSteps ?? 1
        let journal = try await store.journal(runID: "graph")
        func size(_ entry: JournalEntry) -> Int { (entry.result?.serializedBytes().count ?? 0) + entry.name.utf8.count + entry.scope.utf8.count }
        let deltas = journal.filter { $0.kind == .superStep }.map(size)
        benchmark.measurement(bytes[0], deltas.reduce(0, +) / max(1, deltas.count))
        benchmark.measurement(bytes[1], deltas.max() ?? 0)
        benchmark.measurement(bytes[2], journal.map(size).reduce(0, +) / max(1, superSteps))
        benchmark.measurement(bytes[3], (storeBytes(store) - before) / max(1, superSteps))
    }
}
