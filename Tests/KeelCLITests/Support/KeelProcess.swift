import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The real `keel` executable, started as a child process.
struct KeelProcess {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String

        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    /// `keel` next to the test bundle (SwiftPM builds it with the tests), or `$KEEL_BINARY`.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["KEEL_BINARY"] { return URL(fileURLWithPath: path) }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        // The runner may sit inside a bundle directory (`….xctest/…`).
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("keel").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("keel")
    }

    /// This process's environment without a real provider's settings (tests never reach one),
    /// with `overrides` on top.
    static func childEnvironment(_ overrides: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "OPENAI_API_KEY")
        environment.removeValue(forKey: "OPENAI_BASE_URL")
        environment.merge(overrides) { $1 }
        return environment
    }

    /// Runs `keel` with `arguments` to completion (or until `timeout`, when it is killed) and
    /// returns its exit status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> Output {
        try await run(arguments, environment: environment, killAfter: nil, timeout: timeout)
    }

    /// Runs `keel`, killing it with SIGKILL after `killAfter` if it is still running then, or as
    /// soon as its standard output contains `killWhenPrinted`.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], killAfter: Duration?, killWhenPrinted: String? = nil,
        timeout: Duration = .seconds(60), directory: URL? = nil
    ) async throws -> Output {
        let process = Process()
        if let directory { process.currentDirectoryURL = directory }
        process.executableURL = binary
        process.arguments = arguments
        process.environment = childEnvironment(environment)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdout = Mutex(Data())
        let stderr = Mutex(Data())
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            stdout.withLock { $0.append(data) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            stderr.withLock { $0.append(data) }
        }
        try process.run()
        let start = ContinuousClock.now
        let deadline = start + timeout
        while process.isRunning {
            if let killAfter, ContinuousClock.now - start >= killAfter {
                kill(process.processIdentifier, SIGKILL)
                break
            }
            if let killWhenPrinted, String(decoding: stdout.withLock { $0 }, as: UTF8.self).contains(killWhenPrinted) {
                kill(process.processIdentifier, SIGKILL)
                break
            }
            if ContinuousClock.now > deadline {
                process.terminate()
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        stdout.withLock { $0.append(out.fileHandleForReading.readDataToEndOfFile()) }
        stderr.withLock { $0.append(err.fileHandleForReading.readDataToEndOfFile()) }
        return Output(
            status: process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus,
            stdout: String(decoding: stdout.withLock { $0 }, as: UTF8.self),
            stderr: String(decoding: stderr.withLock { $0 }, as: UTF8.self))
    }
}
