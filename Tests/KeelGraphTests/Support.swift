import Foundation
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import Synchronization

/// A fresh SQLite store file.
func graphStorePath() throws -> String {
    try TemporaryFolder.make("keel-graph").appendingPathComponent("keel.db").path
}

/// Counts of work done, by name, shared by nodes across executions (and "processes": runtimes).
final class Tally: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    /// Counts one more `name`; returns the new count.
    @discardableResult func add(_ name: String) -> Int {
        counts.withLock { counts in
            counts[name, default: 0] += 1
            return counts[name] ?? 0
        }
    }
    subscript(name: String) -> Int { counts.withLock { $0[name] ?? 0 } }
    var all: [String: Int] { counts.withLock { $0 } }
}

/// The events a run told its observer.
final class EventLog: Sendable {
    private let events = Mutex<[GraphEvent]>([])
    var observer: @Sendable (GraphEvent) -> Void { { event in self.events.withLock { $0.append(event) } } }
    var all: [GraphEvent] { events.withLock { $0 } }
    /// The super-steps finished, as (index, replayed).
    var finished: [(Int, Bool)] {
        all.compactMap { if case .superStepFinished(let index, _, _, _, let replayed) = $0 { (index, replayed) } else { nil } }
    }
}

@Schema
struct Work: Codable, Sendable, Hashable {
    var topic: String
    var count: Int
    var items: [String]
    var answers: [String]
}

extension Work {
    init(_ topic: String = "t") { self.init(topic: topic, count: 0, items: [], answers: []) }
}

/// A runtime on the store at `path` (a new one stands for a new process).
func runtime<State>(_ path: String, _ workflow: GraphWorkflow<State>) throws -> DurableRuntime {
    DurableRuntime(store: try SQLiteRunStore(path: path), workflows: [AnyWorkflow(workflow)])
}
