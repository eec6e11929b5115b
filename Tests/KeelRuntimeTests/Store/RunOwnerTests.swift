import Foundation
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Which owners a process may judge dead and take runs from at once.
@Suite(.timeLimit(.minutes(5))) struct RunOwnerTests {
    @Test func anOwnerIdNamesTheHostAndItsPIDNamespace() {
        let id = RunOwner.currentProcess().id
        #expect(id.hasPrefix(RunOwner.localMachine + "/"))
        #if os(Linux)
        #expect(RunOwner.localMachine.hasPrefix(ProcessInfo.processInfo.hostName + "@"))
        #endif
    }

    @Test func onlyOwnersOfThisNamespaceAreJudgedDead() {
        let gone = Int32.max - 1
        #expect(RunOwner.isDeadLocally("\(RunOwner.localMachine)/\(gone)/0/x"))
        #expect(!RunOwner.isDeadLocally("\(RunOwner.localMachine)/\(getpid())/0/x"))
        #expect(!RunOwner.isDeadLocally("other-host/\(gone)/0/x"))
        #expect(!RunOwner.isDeadLocally("\(ProcessInfo.processInfo.hostName)@1/\(gone)/0/x"))
        // Written without a namespace (by an older Keel, say): not judged, its lease expires.
        #expect(!RunOwner.isDeadLocally("\(ProcessInfo.processInfo.hostName)/\(gone)/0/x"))
    }

    #if os(Linux)
    /// A live worker in another PID namespace on the same host (a container with host networking
    /// or a fixed host name) has a process id that means another process here — usually pid 1.
    @Test func aLiveOwnerInAnotherPIDNamespaceIsNotJudgedDead() async throws {
        let folder = try TemporaryFolder.make("keel-pidns")
        let outside = try SpawnedProcess(
            "/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", "readlink /proc/self/ns/pid; echo $$; exec sleep 30"],
            output: folder.appendingPathComponent("out"))
        defer { outside.send(SIGKILL) }
        var lines: [String] = []
        for _ in 0..<500 where lines.count < 2 {
            lines = outside.outputText.split(separator: "\n").map(String.init)
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(lines.count >= 2, "unshare printed \(lines); is this machine allowed to make PID namespaces?")
        let namespace = lines[0].filter(\.isNumber)
        let innerPID = lines[1]
        #expect(innerPID == "1")
        let owner = "\(ProcessInfo.processInfo.hostName)@\(namespace)/\(innerPID)/12345/abcd"
        #expect(!RunOwner.isDeadLocally(owner), "a live worker of another namespace would lose its runs")
    }
    #endif
}
