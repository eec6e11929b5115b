import Foundation
import KeelCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An MCP server Keel started: its pipes, and the last of what it wrote to standard error.
///
/// The server gets its three pipes and no other descriptor of this process (see `SpawnedChild`),
/// and is reaped when it ends. Nothing here blocks the calling thread.
final class ChildProcess: Sendable {
    /// The descriptor Keel writes the server's standard input to.
    let input: Int32
    /// The descriptor Keel reads the server's standard output from.
    let output: Int32
    private let child: SpawnedChild
    private let stderr: StandardErrorTail
    private let inputOpen = Mutex(true)

    private init(child: SpawnedChild, input: Int32, output: Int32, stderr: StandardErrorTail) {
        self.child = child
        self.input = input
        self.output = output
        self.stderr = stderr
    }

    /// The variables a server inherits from this process, as MCP's reference SDKs do: enough to
    /// find programs and a home folder, and no credentials (no API keys, no database URL). The
    /// server's own `environment` is added to them.
    static let inheritedVariables = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ"]

    /// The whole environment a server with `environment` gets, from `parent` (this process's).
    static func environment(_ environment: [String: String], parent: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var inherited = parent.filter { inheritedVariables.contains($0.key) }
        inherited.merge(environment) { $1 }
        return inherited
    }

    /// Starts `executable` (looked up on `PATH` when it has no slash) with pipes for its standard
    /// streams, a minimal environment (``inheritedVariables``) and `environment`.
    static func start(executable: String, arguments: [String], environment: [String: String]) throws(MCPToolsetError) -> ChildProcess {
        let child: SpawnedChild
        do {
            child = try SpawnedChild(
                executable, arguments, environment: Self.environment(environment), input: .pipe, output: .pipe, error: .pipe)
        } catch {
            throw MCPToolsetError(.connectionFailed, "could not start the MCP server '\(executable)': \(error.description)")
        }
        guard let input = child.pipes.input, let output = child.pipes.output, let error = child.pipes.error else {
            child.send(SIGKILL)
            throw MCPToolsetError(.connectionFailed, "could not start the MCP server '\(executable)': its pipes were not made")
        }
        return ChildProcess(child: child, input: input, output: output, stderr: StandardErrorTail(reading: error))
    }

    /// The server's process ID.
    var pid: pid_t { child.pid }

    /// How the process ended, or `nil` while it runs.
    func exitDescription() -> String? {
        guard let status = child.status else { return nil }
        return status < 0 ? "the MCP server was killed by signal \(-status)" : "the MCP server exited with status \(status)"
    }

    /// How the process ended, if it ends on its own within `limit`.
    func exitDescription(within limit: Duration) async -> String? {
        _ = await child.wait(timeout: limit)
        return exitDescription()
    }

    /// Stops the server as MCP's stdio transport describes: its standard input is closed, then it
    /// gets SIGTERM, and SIGKILL a second later if it still runs. Returns at once with the last of
    /// what it wrote to standard error so far.
    @discardableResult
    func stop() -> String {
        closeInput()
        child.terminate(grace: .seconds(1))
        return stderr.text
    }

    /// ``stop()``, then waits up to two seconds for the server to end and for the end of its
    /// standard error, so that the text returned is all it wrote.
    func stopAndCollect() async -> String {
        stop()
        _ = await child.wait(timeout: .seconds(2))
        await stderr.waitForEnd(timeout: .seconds(1))
        return stderr.text
    }

    private func closeInput() {
        inputOpen.withLock { open in
            if open { close(input) }
            open = false
        }
    }

    deinit {
        closeInput()
        child.terminate(grace: .seconds(1))
        // No transport reads this process's output once nothing holds it.
        close(output)
    }
}

/// The last ``limit`` bytes a child wrote to standard error, read by a thread of its own until the
/// end of the stream (which then closes the descriptor).
final class StandardErrorTail: Sendable {
    /// How much is kept for error messages.
    static let limit = 8 << 10

    private struct State {
        var tail: [UInt8] = []
        var ended = false
    }

    private let state = Mutex(State())

    init(reading descriptor: Int32) {
        let reader = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                state.withLock { state in
                    state.tail.append(contentsOf: buffer[0..<count])
                    if state.tail.count > Self.limit { state.tail.removeFirst(state.tail.count - Self.limit) }
                }
            }
            close(descriptor)
            state.withLock { $0.ended = true }
        }
        reader.stackSize = 64 << 10
        reader.start()
    }

    /// What was kept, trimmed.
    var text: String {
        String(decoding: state.withLock { $0.tail }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits up to `timeout` for the end of the stream.
    func waitForEnd(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while !state.withLock({ $0.ended }), ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
