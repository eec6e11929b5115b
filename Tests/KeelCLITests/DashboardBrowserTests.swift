import Foundation
import KeelCore
import KeelSQLite
import KeelTestSupport
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's `chromium` and
/// `chromium-driver`, Selenium from PyPI) signs in to the real `keel serve`, opens a run that
/// waits for an approval, approves it, and sees the run complete on the live timeline. The
/// screenshots of the runs list and the run page are kept in the test's folder
/// (KEEL_SCREENSHOTS names another).
@Suite(.timeLimit(.minutes(5))) struct DashboardBrowserTests {
    @Test func aBrowserSignsInApprovesAndSeesTheRunComplete() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.fileExists(atPath: tool) {
            // .ci/run installs them; a developer's machine may lack them.
            try #require(ProcessInfo.processInfo.environment["CI"] == nil, "\(tool) is missing: apt-get install chromium chromium-driver")
            return
        }
        let work = try TemporaryFolder.make("keel-dashboard")
        let db = work.appendingPathComponent("keel.db").path
        let key = try await KeelProcess.run(
            ["keys", "create", "--db", db, "--tenant", "acme", "--name", "alice", "--role", "operator"], killAfter: nil, directory: work
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try BackgroundKeel(["serve", "--db", db, "--port", "0", "--workers", "1"], log: work.appendingPathComponent("serve.log"))
        let base = "http://127.0.0.1:\(try await server.port(after: "listening on"))"
        let api = LoopbackHTTP(baseURL: base)
        let started = try await api.request(
            .POST, "/v1/runs", key: key,
            json: #"{"workflow":"agent","input":{"prompt":"What is 6 times 7?","toolsets":["calculator"],"model":{"spec":"arithmetic"},"approvals":{"tools":["multiply"]}}}"#)
        let id = try #require(started.json?["id"]?.stringValue, "\(started)")
        let clock = ContinuousClock.now
        while try await api.request(.GET, "/v1/approvals?status=pending", key: key).json?["approvals"]?.arrayValue?.isEmpty != false {
            guard ContinuousClock.now - clock < .seconds(30) else { Issue.record("the run never asked for approval"); return }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await api.shutdown()

        guard let script = Bundle.module.url(forResource: "Fixtures/dashboard_browser", withExtension: "py") else {
            throw PythonVirtualEnvironment.Failure(description: "the browser script is missing from the test bundle")
        }
        let python = try await PythonVirtualEnvironment.prepared(requirements: ["selenium==4.51.0"]).python
        let screenshots = ProcessInfo.processInfo.environment["KEEL_SCREENSHOTS"].map { URL(fileURLWithPath: $0) } ?? work
        try FileManager.default.createDirectory(at: screenshots, withIntermediateDirectories: true)
        let browsed = try await KeelProcess.run(
            executable: python.path, [script.path, base, key, id, screenshots.path], environment: ["SE_AVOID_STATS": "true", "SE_OFFLINE": "true"],
            timeout: .seconds(180), directory: work)
        #expect(browsed.status == 0, "\(browsed.stdout.suffix(4_000)) \(browsed.stderr.suffix(2_000)) \(server.output.suffix(1_000))")
        let seen = try JSONValue(parsing: browsed.stdout)
        #expect(seen["redirected_to_login"] == true)
        #expect(seen["runs_listed"]?.arrayValue?.contains { $0.stringValue?.contains(id) == true } == true, "\(seen)")
        #expect(seen["cookie"]?["httpOnly"] == true && seen["cookie"]?["sameSite"] == "Strict", "\(seen)")
        #expect(seen["status_before"] == "waiting")
        #expect(seen["status_after"] == "completed")
        #expect(seen["steps_after"]?.intValue ?? 0 > seen["steps_before"]?.intValue ?? 0, "the timeline grew live: \(seen)")
        #expect(seen["approvals_left"] == 0)
        #expect(seen["audit"] == "The chain is intact.")
        for name in ["runs.png", "run.png"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: screenshots.appendingPathComponent(name).path))?[.size] as? Int ?? 0
            #expect(size > 10_000, "\(name) is \(size) bytes")
        }
        // The approval is recorded under the key's name.
        let approval = try await SQLiteRunStore(path: db).approvals(runID: id, status: nil).first
        #expect(approval?.decidedBy == "alice" && approval?.status == .approved)
        #expect(await server.terminate(timeout: .seconds(20)) == 0)
    }
}
