import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An MCP server Keel started: its pipes, and the last of what it wrote to standard error.
final class ChildProcess: Sendable {
    /// The descriptor Keel writes the server's standard input to.
    let input: Int32
    /// The descriptor Keel reads the server's standard output from.
    let output: Int32
    private let process: Mutex<Process?>
    private let stderrTail = Mutex<[UInt8]>([])
    private let stderrPipe: Pipe

    /// How much of the server's standard error is kept for error messages.
    static let stderrKept = 8 << 10

    private init(process: Process, input: Int32, output: Int32, stderrPipe: Pipe) {
        self.process = Mutex(process)
        self.input = input
        self.output = output
        self.stderrPipe = stderrPipe
    }

    /// Starts `executable` (looked up on `PATH` when it has no slash) with pipes for its standard
    /// streams.
    static func start(executable: String, arguments: [String], environment: [String: String]) throws(MCPToolsetError) -> ChildProcess {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw MCPToolsetError(.connectionFailed, "could not start the MCP server '\(executable)': \(error.localizedDescription)")
        }
        let child = ChildProcess(
            process: process, input: stdin.fileHandleForWriting.fileDescriptor, output: stdout.fileHandleForReading.fileDescriptor, stderrPipe: stderr)
        stderr.fileHandleForReading.readabilityHandler = { [weak child] handle in
            let data = handle.availableData
            guard let child, !data.isEmpty else { return }
            child.stderrTail.withLock { tail in
                tail.append(contentsOf: data)
                if tail.count > stderrKept { tail.removeFirst(tail.count - stderrKept) }
            }
        }
        return child
    }

    /// How the process ended, or `nil` while it runs (or after ``stop()``).
    func exitDescription() -> String? {
        process.withLock { process in
            guard let process, !process.isRunning else { return nil }
            let how = process.terminationReason == .uncaughtSignal ? "was killed by signal" : "exited with status"
            return "the MCP server \(how) \(process.terminationStatus)"
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after a second; it waits at most a second more for
    /// the exit) and returns the last of its standard error.
    @discardableResult
    func stop() -> String {
        if let process = process.withLock({ process in defer { process = nil }; return process }) {
            if process.isRunning {
                process.terminate()
                let deadline = Date().addingTimeInterval(1)
                while process.isRunning, Date() < deadline { usleep(5_000) }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    // A bounded wait, not `waitUntilExit()`: Foundation has been seen to miss a
                    // child's exit, and this can run on one of Swift concurrency's few threads.
                    let killed = Date().addingTimeInterval(1)
                    while process.isRunning, Date() < killed { usleep(5_000) }
                }
            }
        }
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        return String(decoding: stderrTail.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        stop()
    }
}
