import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// `keel demo` and `keel runs` as a user runs them, in a folder of their own.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct DemoCommandTests {
    func folder() throws -> URL {
        try TemporaryFolder.make("keel-cli")
    }

    func keel(_ arguments: [String], in directory: URL, killAfter: Duration? = nil) async throws -> KeelProcess.Output {
        try await KeelProcess.run(arguments, killAfter: killAfter, timeout: .seconds(120), directory: directory)
    }

    @Test func theDemoWritesAReportOfflineAndKeepsItsRun() async throws {
        let work = try folder()
        let output = try await keel(["demo", "--sections", "6", "--run-id", "d1"], in: work)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("run d1: writing a 6-section report with writer into keel.db"))
        #expect(output.stdout.contains("section 6/6 written"))
        #expect(output.stdout.contains("report written to d1.md · 6 sections"))
        let report = try String(contentsOf: work.appendingPathComponent("d1.md"), encoding: .utf8)
        #expect(report.hasPrefix("# Report: customer churn\n\n## 1. Introduction to customer churn\n"))
        #expect(report.contains("## 6. Appendix: method and sources"))

        // Running it again resumes a completed run: nothing is written twice.
        let again = try await keel(["demo", "--run-id", "d1"], in: work)
        #expect(again.status == 0)
        #expect(again.stdout.contains("resuming the 6-section report (completed)"))
        #expect(again.stdout.contains("report written to d1.md · 6 sections"))
        #expect(again.stdout.contains("note: resuming run d1 with the settings it started with (6 sections"))
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        #expect(try await store.journal(runID: "d1").count == 11)  // six sections, five paces
    }

    @Test func runsCanBeListedShownForkedAndResumed() async throws {
        let work = try folder()
        #expect(try await keel(["demo", "--sections", "4", "--run-id", "base"], in: work).status == 0)
        let list = try await keel(["runs", "list"], in: work)
        #expect(list.stdout.contains("base  report    completed"))
        let show = try await keel(["runs", "show", "base", "--json"], in: work)
        let json = try JSONValue(parsing: show.stdout)
        #expect(json["status"] == "completed")
        #expect(json["steps"]?.arrayValue?.count == 7)
        #expect((json["usage"]?["output_tokens"]?.intValue ?? 0) > 0)
        #expect(json["steps"]?[0]?["model"] == "test:writer")

        let fork = try await keel(["runs", "fork", "base", "--at", "4", "--run-id", "branch"], in: work)
        #expect(fork.status == 0, "\(fork.stderr)")
        #expect(fork.stdout == "branch\n")
        let resumed = try await keel(["runs", "resume", "branch"], in: work)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("run branch is completed"))
        // The outcome as keel demo gives it: the report, written.
        #expect(resumed.stdout.contains("report written to branch.md · "), "\(resumed.stdout)")
        #expect(FileManager.default.fileExists(atPath: work.appendingPathComponent("branch.md").path))
        let branchShow = try await keel(["runs", "show", "branch"], in: work)
        #expect(branchShow.stdout.contains("forked    from base at step 4"))
        #expect(branchShow.stdout.contains("outcome   report of "), "\(branchShow.stdout)")
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        #expect(try await store.journal(runID: "branch").count == 7)
        #expect(try await store.run(id: "branch")?.output == (try await store.run(id: "base")?.output))

        let badFork = try await keel(["runs", "fork", "base", "--at", "99"], in: work)
        #expect(badFork.status != 0)
        #expect(badFork.stderrLines.count == 1)
        let signal = try await keel(["runs", "signal", "base", "go"], in: work)
        #expect(signal.status != 0)
        #expect(signal.stderrLines == ["keel: run 'base' is completed; it takes no more signals"])
    }

    @Test func aRunCanBeCancelledFromAnotherProcess() async throws {
        let work = try folder()
        async let long = keel(["demo", "--sections", "161", "--pace", "30ms", "--run-id", "long"], in: work)
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        while (try? await store.journal(runID: "long").count) ?? 0 < 3 { try await Task.sleep(for: .milliseconds(20)) }
        let cancel = try await keel(["runs", "cancel", "long"], in: work)
        #expect(cancel.stdout == "run long is cancelled\n")
        let output = try await long
        #expect(output.status == 1)
        #expect(output.stderrLines.last == "keel: run long was cancelled")
        #expect(try await store.journal(runID: "long").count < 321)
    }

    @Test func twoProcessesShareOneStore() async throws {
        let work = try folder()
        async let first = keel(["demo", "--sections", "25", "--pace", "1ms", "--run-id", "one"], in: work)
        async let second = keel(["demo", "--sections", "25", "--pace", "1ms", "--run-id", "two"], in: work)
        let (a, b) = try await (first, second)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(b.status == 0, "\(b.stderr)")
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        for id in ["one", "two"] {
            let sections = try await store.journal(runID: id).filter { $0.name.hasPrefix("section-") }.map(\.name)
            #expect(sections == (1...25).map { "section-\($0)" })
        }
    }

    @Test func aRunHeldByALiveProcessIsNotRunTwice() async throws {
        let work = try folder()
        async let owner = keel(["demo", "--sections", "100", "--pace", "50ms", "--run-id", "shared"], in: work)  // 5 s or more: long enough for a second process to start under load
        let store = try SQLiteRunStore(path: work.appendingPathComponent("keel.db").path)
        while (try? await store.journal(runID: "shared").count) ?? 0 < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let intruder = try await keel(["demo", "--run-id", "shared"], in: work)
        #expect(intruder.status == 3)
        #expect(intruder.stderrLines.last?.hasPrefix("keel: run 'shared' is being run by ") == true)
        let result = try await owner
        #expect(result.status == 0, "\(result.stderr)")
        let sections = try await store.journal(runID: "shared").filter { $0.name.hasPrefix("section-") }.map(\.name)
        #expect(sections == (1...100).map { "section-\($0)" })
    }

    @Test func aStoreThatIsNotAStoreIsOneLine() async throws {
        let work = try folder()
        try Data(repeating: 0x42, count: 8192).write(to: work.appendingPathComponent("junk.db"))
        let output = try await keel(["runs", "list", "--db", "junk.db"], in: work)
        #expect(output.status == 1)
        #expect(output.stderrLines.count == 1)
        #expect(output.stderr.contains("junk.db is not a usable Keel store"))
    }

    @Test func aDurableAgentResumesAfterAFailedModelCall() async throws {
        let work = try folder()
        let script: [ServerReply] = [
            .toolCalls([ToolCall(id: "call_1", name: "add", arguments: #"{"a":1,"b":2}"#)]),
            .error(status: 500, message: "The server had an error.", type: "server_error"),
            .text("1 plus 2 is 3."),
        ]
        try await OpenAICompatibleServer.withServer(responder: .scripted(script)) { server in
            let arguments = ["agent", "--db", "agents.db", "--run-id", "a1", "--attempts", "1", "--model", "openai:any", "--base-url", server.baseURL, "--tools", "calculator", "What is 1 plus 2?"]
            let failed = try await keel(arguments, in: work)
            #expect(failed.status == 1)
            #expect(failed.stderrLines.last?.contains("run a1 failed at step 4: server: HTTP 500: The server had an error.") == true)
            let resumed = try await keel(["runs", "resume", "a1", "--db", "agents.db"], in: work)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(server.chatRequests.count == 3)
            // The resumed call carried the whole transcript, rebuilt from the journal.
            #expect(server.chatRequests.last?.json?["messages"]?.arrayValue?.count == 3)
            let again = try await keel(arguments, in: work)
            #expect(again.stdout == "1 plus 2 is 3.\n")
            #expect(server.chatRequests.count == 3)  // a completed run is not run again
        }
    }
}
