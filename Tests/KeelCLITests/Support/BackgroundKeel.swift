import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `keel` process left running (a worker), its standard error kept in a file.
final class BackgroundKeel {
    let process = Process()
    let log: URL

    init(_ arguments: [String], log: URL, environment: [String: String] = [:]) throws {
        self.log = log
        process.executableURL = KeelProcess.binary
        process.arguments = arguments
        process.environment = KeelProcess.childEnvironment(environment)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// A worker the test forgot (or that would not stop) does not outlive it.
    deinit {
        killHard()
    }

    var isRunning: Bool { process.isRunning }

    /// SIGKILL. It does not wait for the exit: a blocking wait would hold one of the few threads
    /// Swift concurrency has here, and Foundation's `Process` has been seen to miss an exit.
    func killHard() {
        guard process.isRunning else { return }
        _ = kill(process.processIdentifier, SIGKILL)
    }

    /// SIGTERM, then waits up to `timeout` for the exit status (`nil` if it did not exit).
    func terminate(timeout: Duration) async -> Int32? {
        _ = kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}
