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

    /// The port in the first line that says `<what> http://127.0.0.1:PORT`, waiting up to 30 s
    /// for it (`listening on` for `keel serve`, `metrics at` for a worker's metrics).
    func port(after what: String) async throws -> Int {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            if let range = output.range(of: what + #" http://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                let port = Int(output[range].split(separator: ":").last?.prefix { $0.isNumber } ?? "")
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw LoopbackHTTPFailure(description: "no '\(what)' address within 30 s: \(output.suffix(1_000))")
    }
}
