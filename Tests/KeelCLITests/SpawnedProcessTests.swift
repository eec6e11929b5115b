import Foundation
import KeelTestSupport
import KeelTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The launcher the CLI tests start `keel` with: exit codes, signals, environment, working
/// directory and output, with a real `/bin/sh`.
@Suite(.timeLimit(.minutes(10))) struct SpawnedProcessTests {
    @Test func reportsExitCodesOutputAndTheWorkingDirectory() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("keel-spawn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let child = try SpawnedProcess(
            "/bin/sh", ["-c", #"pwd; echo "$GREETING"; echo oops >&2; exit 3"#], environment: ["GREETING": "hello", "PATH": "/usr/bin:/bin"],
            directory: work, output: work.appendingPathComponent("out"), errorOutput: work.appendingPathComponent("err"))
        #expect(await child.wait(timeout: .seconds(10)) == 3)
        let lines = child.outputText.split(separator: "\n").map(String.init)
        #expect(lines.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == work.resolvingSymlinksInPath().path)
        #expect(lines.last == "hello")
        #expect(child.errorText == "oops\n")
        #expect(!child.isRunning)
    }

    @Test func reportsTheSignalThatEndedIt() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("keel-spawn-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try SpawnedProcess("/bin/sh", ["-c", "sleep 30"], output: log)
        #expect(child.isRunning)
        #expect(await child.wait(timeout: .milliseconds(50)) == nil)
        child.send(SIGKILL)
        #expect(await child.wait(timeout: .seconds(10)) == -SIGKILL)
        #expect(child.waitBlocking() == -SIGKILL)
    }

    @Test func aProgramThatDoesNotExistIsAClearError() {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("keel-spawn-\(UUID().uuidString).log")
        #expect(throws: SpawnedProcess.SpawnError.self) { try SpawnedProcess("/nonexistent/keel", [], output: log) }
    }
}
