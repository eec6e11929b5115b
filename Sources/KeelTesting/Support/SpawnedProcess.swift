import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid`, its output going to
/// files.
///
/// Tests start real programs (the `keel` CLI, `pg_ctl`) this way rather than with Foundation's
/// `Process`: that has been seen to miss a child's exit, and its `waitUntilExit()` blocks one of
/// the few threads Swift concurrency has. Nothing here blocks: ``wait(timeout:)`` polls.
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
    public let pid: pid_t
    /// Where its standard output goes, and its standard error unless ``errorOutput`` is set.
    public let output: URL
    /// Where its standard error goes, if apart from ``output``.
    public let errorOutput: URL?
    /// The raw `waitpid` status, once reaped.
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments` (the program name is added as `argv[0]`).
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
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let errorOutput {
            posix_spawn_file_actions_addopen(&actions, 2, errorOutput.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let directory {
            guard let addChdir = Self.addChdir, addChdir(&actions, directory.path) == 0 else {
                throw SpawnError(description: "cannot start \(executable) in \(directory.path): this C library cannot set a child's working directory")
            }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned: Int32
        var pid = pid_t()
        if let environment {
            let pairs = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { pairs.forEach { free($0) } }
            spawned = posix_spawn(&pid, executable, &actions, nil, argv, pairs)
        } else {
            #if canImport(Glibc)
            spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
            #else
            spawned = posix_spawn(&pid, executable, &actions, nil, argv, _NSGetEnviron().pointee)
            #endif
        }
        guard spawned == 0 else { throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(spawned)))") }
        self.pid = pid
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29 and later, macOS 10.15 and later),
    /// looked up at run time because the Swift overlay for the C library does not declare it.
    private static let addChdir: AddChdir? = {
        #if canImport(Glibc)
        let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np")
        #else
        let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -2), "posix_spawn_file_actions_addchdir_np")  // RTLD_DEFAULT
        #endif
        return symbol.map { unsafeBitCast($0, to: AddChdir.self) }
    }()

    /// The exit status once the child has ended — its exit code, or minus the signal that ended
    /// it — and `nil` while it runs. Does not block.
    public var status: Int32? {
        reaped.withLock { reaped in
            if reaped == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { reaped = raw }
            }
            return reaped.map { raw in (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : -(raw & 0x7f) }
        }
    }

    /// Whether the child is still running.
    public var isRunning: Bool { status == nil }

    /// Sends `signal` (such as `SIGTERM` or `SIGKILL`) to a child that is still running.
    public func send(_ signal: Int32) {
        guard isRunning else { return }
        _ = kill(pid, signal)
    }

    /// Waits up to `timeout` for the child to end; its ``status``, or `nil` if it still runs.
    public func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status { return status }
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Blocks until the child ends, and returns its ``status``. For synchronous helpers only; an
    /// async caller uses ``wait(timeout:)``.
    public func waitBlocking() -> Int32 {
        while true {
            if let status { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, 0)
            if result == pid {
                reaped.withLock { $0 = raw }
            } else if result == -1, errno != EINTR {
                // Reaped elsewhere: all that is known is that it ended.
                reaped.withLock { $0 = $0 ?? 0 }
            }
        }
    }

    /// What the child has written to ``output`` so far.
    public var outputText: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// What the child has written to ``errorOutput`` so far (empty when it shares ``output``).
    public var errorText: String { errorOutput.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }
}
