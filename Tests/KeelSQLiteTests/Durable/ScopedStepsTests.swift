import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Synchronization
import Testing

/// Steps in scopes: branches of one run with positions of their own, replayed deterministically.
@Suite(.timeLimit(.minutes(10))) struct ScopedStepsTests {
    /// Counts each branch's body runs.
    final class Hits: Sendable {
        private let counts = Mutex<[String: Int]>([:])
        func hit(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
        subscript(_ name: String) -> Int { counts.withLock { $0[name, default: 0] } }
    }

    /// A fan-out of `width` branches of two steps each; branch `failing` fails its second step
    /// while `failures` says so.
    struct FanOut: Workflow {
        let name = "fan-out"
        let hits: Hits
        let failing: Int
        let failures: Locked<Int>

        func run(_ width: Int, context: RunContext) async throws -> [String] {
            try await context.branches((0..<width).map { "branch-\($0)" }) { branch, scope in
                let index = Int(branch.dropFirst("branch-".count)) ?? -1
                let first = try await scope.step("fetch") { hits.hit("\(index)/fetch"); return "f\(index)" }
                return try await scope.step("summarise") {
                    hits.hit("\(index)/summarise")
                    if index == failing, failures.withLock({ $0 > 0 ? ($0 -= 1, true).1 : false }) {
                        throw ModelError(.server, message: "branch \(index) fell over", statusCode: 500)
                    }
                    return "\(first)+s"
                }
            }
        }
    }

    @Test func branchesJournalUnderTheirScopeAndAFailedBranchRunsAgainAlone() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let hits = Hits()
        let workflow = FanOut(hits: hits, failing: 3, failures: Locked(1))
        let keel = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        let failed = try await keel.start(workflow, input: 5, runID: "fan")
        #expect(failed.status == .failed)
        #expect(failed.failure?.scope == "branch-3" && failed.failure?.sequence == 1, "the failure names the branch's step: \(String(describing: failed.failure))")
        #expect(failed.failure?.description.hasPrefix("step branch-3/1: ") == true)
        let journal = try await store.journal(runID: "fan")
        #expect(Set(journal.map(\.scope)) == Set((0..<5).map { "branch-\($0)" }))
        #expect(journal.allSatisfy { $0.sequence == ($0.name == "fetch" ? 0 : 1) }, "each branch counts its own positions from 0")

        _ = try await store.reopen(runID: "fan")
        let done = try await keel.run("fan")
        #expect(done.status == .completed)
        #expect(try done.output?.decode(as: [String].self) == (0..<5).map { "f\($0)+s" })
        for index in 0..<5 {
            #expect(hits["\(index)/fetch"] == 1, "branch \(index) fetched again")
            #expect(hits["\(index)/summarise"] == (index == 3 ? 2 : 1), "only the failed branch's step ran again")
        }
    }

    @Test func aScopeOpenedTwiceOrBadlyNamedIsRefused() async throws {
        struct Twice: Workflow {
            let name = "twice"
            let second: String
            func run(_ input: Int, context: RunContext) async throws -> Int {
                _ = try context.scope("a")
                _ = try context.scope(second)
                return input
            }
        }
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        for (second, expected) in [("a", "opened twice"), ("", "non-empty"), ("x/y", "without '/'")] {
            let workflow = Twice(second: second)
            let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).start(workflow, input: 1)
            #expect(record.failure?.code == "invalid_scope")
            #expect(record.failure?.message.contains(expected) == true, "\(String(describing: record.failure))")
        }
    }

    @Test func replayChecksStepNamesWithinTheirScope() async throws {
        struct Renamed: Workflow {
            let name = "renamed"
            let stepName: String
            let hits: Hits
            func run(_ input: Int, context: RunContext) async throws -> String {
                let inner = try context.scope("inner")
                let value = try await inner.step(stepName) { "v" }
                hits.hit("after")
                if hits["after"] == 1 { try await context.sleep(for: .seconds(3_600)) }  // wait, to be resumed
                return value
            }
        }
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let hits = Hits()
        let first = Renamed(stepName: "fetch", hits: hits)
        let waiting = try await DurableRuntime(store: store, workflows: [AnyWorkflow(first)]).start(first, input: 1, runID: "r")
        #expect(waiting.status == .waiting)
        // The code changed: the scope's step has another name.
        let changed = Renamed(stepName: "download", hits: hits)
        _ = try await store.cancel(runID: "r")
        _ = try await store.reopen(runID: "r")
        let failed = try await DurableRuntime(store: store, workflows: [AnyWorkflow(changed)]).run("r")
        #expect(failed.failure?.code == "non_determinism")
        #expect(failed.failure?.step == "inner/0")
        #expect(failed.failure?.message.contains("step inner/0 as 'fetch'") == true, "\(String(describing: failed.failure))")
    }

    /// Two agents side by side and a fan-out of twelve in one run on SQLite, killed 20 times at
    /// random writes (three random sequences).
    @Test(arguments: [42, 7, 2026] as [UInt64])
    func parallelAgentsAndAFanOutSurviveKills(seed: UInt64) async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let report = try await ScopedRunKills.run(on: store, kills: 20, seed: seed)
        #expect(report.kills == 20)
        #expect(report.output == ScopedRunKills.Report.expectedOutput(fanOut: 12))
        #expect(report.callsByBranch.count == 14)
        #expect(report.extraCallsWithinBound, "\(report.callsByBranch)")
        let scopes = Set(report.journal.map(\.scope))
        #expect(scopes == Set(["", "writer", "critic"] + (0..<12).map { "research/agent-\($0)" }))
        // Each agent journaled its two model calls and its tool call, in its own scope.
        for scope in scopes where !scope.isEmpty {
            #expect(report.journal.filter { $0.scope == scope && $0.status == .completed }.map(\.name) == ["model-1", "tool-note-note-\(scope == "writer" || scope == "critic" ? scope : "item-\(scope.split(separator: "-").last ?? "")")", "model-2"])
        }
    }
}
