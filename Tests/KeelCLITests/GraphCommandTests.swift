import Foundation
import KeelApp
import KeelCore
import KeelGraph
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import Testing

/// `keel graph`: interrupts answered across process exits, history, drawing and forks, offline.
@Suite(.timeLimit(.minutes(5))) struct GraphCommandTests {
    func keel(_ arguments: [String], in folder: URL) async throws -> KeelProcess.Output {
        try await KeelProcess.run(arguments, killAfter: nil, timeout: .seconds(60), directory: folder)
    }

    /// The run waits before each draft; each wait is answered by another process, the first with
    /// an edit of the notes, and each resume is a new `keel` process.
    @Test func interruptsAreAnsweredAcrossProcessExits() async throws {
        let work = try TemporaryFolder.make("keel-graph-cli")
        let run = ["graph", "run", "research-review", "--run-id", "g", "--db", "keel.db", "--interrupt-before", "draft", "--max-revisions", "2"]
        var output = try await keel(run, in: work)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("it waits for before:s2"))
        let signal = try await keel(
            ["runs", "signal", "g", "before:s2", "--db", "keel.db", "--payload", #"{"update": {"notes": ["A person's note."]}}"#], in: work)
        #expect(signal.status == 0, "\(signal.stderr)")
        output = try await keel(run, in: work)
        #expect(output.stdout.contains("super-step 2: draft → review"))
        #expect(output.stdout.contains("it waits for before:s5"))
        _ = try await keel(["runs", "signal", "g", "before:s5", "--db", "keel.db"], in: work)
        output = try await keel(run + ["--json"], in: work)
        #expect(output.status == 0, "\(output.stderr)")
        let result = try #require(try await SQLiteRunStore(path: work.appendingPathComponent("keel.db").path).run(id: "g")?.output?.decode(as: GraphResult<ResearchReviewState>.self))
        #expect(result.state.notes.count == 3)
        #expect(result.state.notes[1] == "A person's note.")
        #expect(result.state.revisions == 2)

        let history = try await keel(["graph", "history", "g", "--db", "keel.db"], in: work)
        let lines = history.stdout.split(separator: "\n")
        #expect(lines.count == 7)
        #expect(lines[1].hasPrefix("1\tresearch\t→ draft\tchanged: notes\t(edited)"))
        #expect(lines[6].hasPrefix("6\treview\t→ END"))
    }

    @Test func aForkGoesOnFromASuperStepWithAnEditedState() async throws {
        let work = try TemporaryFolder.make("keel-graph-fork")
        let first = try await keel(["graph", "run", "research-review", "--run-id", "g", "--db", "keel.db", "--max-revisions", "2"], in: work)
        #expect(first.status == 0, "\(first.stderr)")
        let fork = try await keel(["graph", "fork", "g", "--at", "4", "--update", #"{"notes": ["Forked."]}"#, "--run-id", "f", "--db", "keel.db"], in: work)
        #expect(fork.status == 0, "\(fork.stderr)")
        #expect(fork.stdout == "f\n")
        let forked = try await keel(["graph", "run", "research-review", "--run-id", "f", "--db", "keel.db"], in: work)
        #expect(forked.status == 0, "\(forked.stderr)")
        #expect(forked.stdout.contains("super-step 4: research → draft") && forked.stdout.contains("(from the journal)"))
        #expect(forked.stdout.contains("super-step 5: draft → review\n") || forked.stdout.contains("super-step 5: draft → review ·"))
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        let original = try #require(try await store.run(id: "g")?.output?.decode(as: GraphResult<ResearchReviewState>.self))
        let result = try #require(try await store.run(id: "f")?.output?.decode(as: GraphResult<ResearchReviewState>.self))
        #expect(result.state.notes == Array(original.state.notes) + ["Forked."])
        // Only what came after super-step 4 ran again: two model steps (draft, review) in the fork's own scopes.
        let journal = try await store.journal(runID: "f")
        #expect(journal.filter { $0.kind == .model }.count == 6)
        let drawn = try await keel(["graph", "show", "f", "--db", "keel.db"], in: work)
        #expect(drawn.stdout.contains("n_research[\"research ×2\"]"))
    }

    @Test func badRequestsGetOneClearLine() async throws {
        let work = try TemporaryFolder.make("keel-graph-bad")
        #expect(try await keel(["graph", "run", "nonsense"], in: work).stderr.contains("unknown graph 'nonsense'"))
        _ = try await keel(["graph", "run", "research-review", "--run-id", "g", "--db", "keel.db", "--max-revisions", "1"], in: work)
        let noStep = try await keel(["graph", "fork", "g", "--at", "99", "--db", "keel.db"], in: work)
        #expect(noStep.status != 0)
        #expect(noStep.stderr.contains("run 'g' has no super-step 99; it has 0 to 3"))
        let badJSON = try await keel(["graph", "fork", "g", "--at", "1", "--update", "nope", "--db", "keel.db"], in: work)
        #expect(badJSON.stderr.contains("--update must be a JSON object"))
        let badNode = try await keel(["graph", "run", "research-review", "--interrupt-after", "publish", "--db", "keel.db"], in: work)
        #expect(badNode.stderr.contains("an interrupt is declared at 'publish', which is not a node"))
        let drawn = try await keel(["graph", "show", "research-review"], in: work)
        #expect(drawn.stdout.hasPrefix("flowchart TD\n"))
        #expect(drawn.stdout.contains("n_review -.-> __end__"))
    }
}
