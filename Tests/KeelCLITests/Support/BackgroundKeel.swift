import Foundation
import KeelTestSupport
import KeelTesting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `keel` process left running (a worker), its output kept in a file.
final class BackgroundKeel {
    let child: SpawnedProcess
    let log: URL

    init(_ arguments: [String], log: URL, environment: [String: String] = [:]) throws {
        self.log = log
        child = try SpawnedProcess(KeelProcess.binary.path, arguments, environment: KeelProcess.childEnvironment(environment), output: log)
    }

    /// A worker the test forgot (or that would not stop) does not outlive it.
    deinit {
        killHard()
    }

    var isRunning: Bool { child.isRunning }

    /// SIGKILL, without waiting for the exit.
    func killHard() {
        child.send(SIGKILL)
    }

    /// SIGSTOP: the process is frozen where it is, holding its connections, until ``resume()``.
    func freeze() {
        child.send(SIGSTOP)
    }

    /// SIGCONT: a frozen process carries on from where it was.
    func resume() {
        child.send(SIGCONT)
    }

    /// SIGTERM, then waits up to `timeout` for the exit status (`nil` if it did not exit).
    func terminate(timeout: Duration) async -> Int32? {
        child.send(SIGTERM)
        return await child.wait(timeout: timeout)
    }

    var output: String { child.outputText }
}
