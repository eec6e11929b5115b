import Foundation
import KeelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process for tests, its output going to files.
///
/// Tests start real programs (the `keel` CLI, `pg_ctl`, Python servers) this way rather than with
/// Foundation's `Process`: that has been seen to miss a child's exit, its `waitUntilExit()` blocks
/// one of the few threads Swift concurrency has, and its children inherit every descriptor the test
/// process holds (a server's socket kept open by a child never reports its end). Here the child
/// gets its standard streams and nothing else, is reaped by a thread of its own as soon as it ends,
/// and nothing blocks: ``wait(timeout:)`` polls.
///
/// ```swift
/// let child = try SpawnedProcess("/usr/bin/env", ["true"], output: log)
/// let status = await child.wait(timeout: .seconds(5))  // 0
/// ```
public final class SpawnedProcess: Sendable {
    /// A program that could not be started.
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The child's process ID.
    public var pid: pid_t { child.pid }
    /// Where its standard output goes, and its standard error unless ``errorOutput`` is set.
    public let output: URL
    /// Where its standard error goes, if apart from ``output``.
    public let errorOutput: URL?
    private let child: SpawnedChild

    /// Starts `executable` with `arguments` (the program name is added as `argv[0]`; a name without
    /// a slash is looked up on `PATH`).
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; `nil` passes this process's on.
    ///   - directory: the working directory; `nil` keeps this process's.
    ///   - output: the file standard output goes to (created or truncated).
    ///   - errorOutput: the file standard error goes to; `nil` sends it to `output`.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil,
        output: URL, errorOutput: URL? = nil
    ) throws {
        self.output = output
        self.errorOutput = errorOutput
        do {
            child = try SpawnedChild(
                executable, arguments, environment: environment, directory: directory?.path,
                output: .file(output.path), error: errorOutput.map { .file($0.path) } ?? .sameAsOutput)
        } catch {
            throw SpawnError(description: error.description)
        }
    }

    /// The exit status once the child has ended — its exit code, or minus the signal that ended
    /// it — and `nil` while it runs. Does not block.
    public var status: Int32? { child.status }

    /// Whether the child is still running.
    public var isRunning: Bool { child.isRunning }

    /// Sends `signal` (such as `SIGTERM` or `SIGKILL`) to a child that is still running.
    public func send(_ signal: Int32) { child.send(signal) }

    /// Waits up to `timeout` for the child to end; its ``status``, or `nil` if it still runs.
    public func wait(timeout: Duration) async -> Int32? { await child.wait(timeout: timeout) }

    /// Waits for the child to end, however long that takes, and returns its ``status``.
    public func exitStatus() async -> Int32 { await child.exitStatus() }

    /// Blocks until the child ends, and returns its ``status``. For synchronous helpers only; an
    /// async caller uses ``wait(timeout:)``.
    public func waitBlocking() -> Int32 { child.waitBlocking() }

    /// What the child has written to ``output`` so far.
    public var outputText: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// What the child has written to ``errorOutput`` so far (empty when it shares ``output``).
    public var errorText: String { errorOutput.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }

    /// Waits until the process has printed its first line (servers print their address once they
    /// accept connections) and returns it; throws if the process exits first or `timeout` passes.
    public func firstLine(what: String, timeout: Duration = .seconds(60)) async throws -> String {
        let started = ContinuousClock.now
        while !outputText.contains("\n") {
            if let status {
                throw PythonVirtualEnvironment.Failure(description: "\(what) exited (\(status)) before it listened: \(errorText.suffix(500))")
            }
            guard ContinuousClock.now - started < timeout else { throw PythonVirtualEnvironment.Failure(description: "\(what) did not listen within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return String(outputText.prefix { $0 != "\n" })
    }
}
