import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KeelTestSupport
import KeelTesting
import Testing

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

    /// Runs `keel`, killing it with SIGKILL after `killAfter` if it is still running then, as soon
    /// as its standard output contains `killWhenPrinted`, or as soon as `killWhen` says so (a server
    /// of the test's has seen its request, say). Past `timeout` it gets SIGTERM, and SIGKILL five
    /// seconds later.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], killAfter: Duration?, killWhenPrinted: String? = nil,
        killWhen: (@Sendable () -> Bool)? = nil, timeout: Duration = .seconds(60), directory: URL? = nil
    ) async throws -> Output {
        try await run(
            executable: binary.path, arguments, environment: environment, killAfter: killAfter, killWhenPrinted: killWhenPrinted, killWhen: killWhen,
            timeout: timeout, directory: directory)
    }

    /// Runs another program the same way (a Python tool of a test's, say).
    static func run(
        executable: String, _ arguments: [String], environment: [String: String] = [:], killAfter: Duration? = nil, killWhenPrinted: String? = nil,
        killWhen: (@Sendable () -> Bool)? = nil, timeout: Duration = .seconds(60), directory: URL? = nil
    ) async throws -> Output {
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("keel-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: files) }
        let child = try SpawnedProcess(
            executable, arguments, environment: childEnvironment(environment), directory: directory,
            output: files.appendingPathComponent("stdout"), errorOutput: files.appendingPathComponent("stderr"))
        let start = ContinuousClock.now
        while true {
            if let status = child.status { return Output(status: status, stdout: child.outputText, stderr: child.errorText) }
            if let killAfter, ContinuousClock.now - start >= killAfter { child.send(SIGKILL) }
            if let killWhenPrinted, child.outputText.contains(killWhenPrinted) { child.send(SIGKILL) }
            if let killWhen, killWhen() { child.send(SIGKILL) }
            if ContinuousClock.now - start > timeout {
                child.send(SIGTERM)
                if await child.wait(timeout: .seconds(5)) == nil {
                    child.send(SIGKILL)
                    guard await child.wait(timeout: .seconds(5)) != nil else {
                        throw SpawnedProcess.SpawnError(description: "\(executable) \(arguments.joined(separator: " ")) would not stop")
                    }
                }
                continue  // ended: the next turn returns its status
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

extension KeelProcess {
    /// What ``runKilling(_:kills:after:directory:)`` saw: the run that finished, and how many runs
    /// before it were killed.
    struct KilledRuns {
        let finished: Output
        let kills: Int
        /// Every run's output, in order: the killed ones, then the finished one.
        let all: [Output]
    }

    /// Runs `keel` with `arguments` again and again, killing each of the first `kills` runs that is
    /// still going after a random delay in `after` (milliseconds) with SIGKILL, until a run ends by
    /// itself; `nil` (with an issue recorded) when none has after 200 tries.
    static func runKilling(_ arguments: [String], kills: Int, after: ClosedRange<Int>, directory: URL) async throws -> KilledRuns? {
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        var outputs: [Output] = []
        for _ in 1..<200 {
            let killAfter: Duration? = killed < kills ? .milliseconds(Int.random(in: after, using: &generator)) : nil
            let output = try await run(arguments, killAfter: killAfter, timeout: .seconds(120), directory: directory)
            outputs.append(output)
            guard output.status == -SIGKILL else { return KilledRuns(finished: output, kills: killed, all: outputs) }
            killed += 1
        }
        Issue.record("\(arguments.prefix(2).joined(separator: " ")) never finished in 200 tries")
        return nil
    }
}
