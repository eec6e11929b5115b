import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, given only the descriptors meant for it, and reaped
/// by a thread of its own.
///
/// Every process Keel or its tests start goes through here, for three reasons:
/// 1. **No descriptor crosses a spawn.** The child gets its three standard streams and nothing
///    else: every other descriptor is closed in the child (`posix_spawn_file_actions_addclosefrom_np`
///    on Linux, `POSIX_SPAWN_CLOEXEC_DEFAULT` on macOS). SwiftNIO opens sockets without
///    close-on-exec; a child that inherits a server's connection keeps it open after the server
///    closes it, and the peer never sees the end of the stream.
/// 2. **Nothing blocks a cooperative thread.** A dedicated thread waits for the exit; async callers
///    poll ``status`` with `Task.sleep`.
/// 3. **No zombies.** A child is reaped as soon as it ends, whether or not anyone waits for it;
///    signals are sent only while it has not been reaped, so they never reach a reused PID.
package final class SpawnedChild: Sendable {
    /// Where one of the child's standard streams goes.
    package enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// A file: read for standard input; created or truncated for output.
        case file(String)
        /// A pipe; the parent's end is in ``SpawnedChild/pipes``.
        case pipe
        /// Standard error only: wherever standard output goes.
        case sameAsOutput
    }

    /// The parent's ends of the pipes asked for (close-on-exec, owned by the caller).
    package struct Pipes: Sendable {
        /// Write end of the child's standard input.
        package var input: Int32?
        /// Read end of the child's standard output.
        package var output: Int32?
        /// Read end of the child's standard error.
        package var error: Int32?
    }

    /// A program that could not be started.
    package struct SpawnError: Error, CustomStringConvertible {
        package var description: String
    }

    /// The child's process ID.
    package let pid: pid_t
    /// The parent's ends of the pipes.
    package let pipes: Pipes

    private struct State {
        var exited = false
        var raw: Int32?
        /// Called once the child has been reaped.
        var waiters: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    /// Starts `executable` with `arguments` (`argv[0]` is added). An executable without a slash is
    /// looked up on this process's `PATH`.
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; `nil` passes this process's on.
    ///   - directory: the working directory; `nil` keeps this process's.
    package init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: Stream = .null, output: Stream = .null, error: Stream = .sameAsOutput
    ) throws(SpawnError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // Both ends of every pipe, so that the parent's ends can be closed if spawning fails and
        // the child's ends are closed in the parent once it has started.
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        func closeAll(_ descriptors: [Int32]) { for descriptor in descriptors { close(descriptor) } }

        func route(_ stream: Stream, to target: Int32) throws(SpawnError) -> Int32? {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                let flags = target == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC
                posix_spawn_file_actions_addopen(&actions, target, path, flags, 0o644)
            case .sameAsOutput:
                posix_spawn_file_actions_adddup2(&actions, 1, target)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else {
                    throw SpawnError(description: "cannot start \(executable): no pipe (\(String(cString: strerror(errno))))")
                }
                _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
                let (parent, child) = target == 0 ? (ends[1], ends[0]) : (ends[0], ends[1])
                parentEnds.append(parent)
                childEnds.append(child)
                posix_spawn_file_actions_adddup2(&actions, child, target)
                return parent
            }
            return nil
        }

        var pipes = Pipes()
        do {
            pipes.input = try route(input, to: 0)
            pipes.output = try route(output, to: 1)
            pipes.error = try route(error, to: 2)
        } catch {
            closeAll(parentEnds + childEnds)
            throw error
        }
        if let directory {
            guard let addChdir = Self.addChdir, addChdir(&actions, directory) == 0 else {
                closeAll(parentEnds + childEnds)
                throw SpawnError(description: "cannot start \(executable) in \(directory): this C library cannot set a child's working directory")
            }
        }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        #if canImport(Glibc)
        if let addCloseFrom = Self.addCloseFrom {
            _ = addCloseFrom(&actions, 3)
        } else {
            // A C library older than glibc 2.34: close what is open now.
            for descriptor in Self.openDescriptors() where descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        }
        #else
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #endif
        // The child starts with no signal blocked and every signal at its default (the parent may
        // ignore SIGPIPE, and an ignored signal stays ignored across exec).
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let pairs: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { pairs?.forEach { free($0) } }
        var pid = pid_t()
        let spawned: Int32 = Self.withEnvironment(pairs) { envp in
            executable.contains("/")
                ? posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
                : posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        }
        closeAll(childEnds)
        guard spawned == 0 else {
            closeAll(parentEnds)
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        self.pipes = pipes
        // The thread holds the handle until the child ends, so a child is reaped even if nobody
        // keeps its handle.
        let reaper = Thread { self.reap() }
        reaper.name = "keel-reaper-\(pid)"
        reaper.stackSize = 64 << 10
        reaper.start()
    }

    private static func withEnvironment<R>(_ pairs: [UnsafeMutablePointer<CChar>?]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        if let pairs, let result = pairs.withUnsafeBufferPointer({ $0.baseAddress.map(body) }) { return result }
        #if canImport(Glibc)
        return body(environ)
        #else
        return body(_NSGetEnviron().pointee)
        #endif
    }

    /// Waits for the exit without reaping (`WNOWAIT`), marks it, and reaps under the lock, so that
    /// ``send(_:)`` — which signals under the same lock — never reaches a reused PID.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            guard errno == EINTR else { break }  // ECHILD: reaped elsewhere
        }
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &raw, 0) } while result == -1 && errno == EINTR
            state.exited = true
            state.raw = result == pid ? raw : 0
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter() }
    }

    /// The exit status once the child has ended — its exit code, or minus the signal that ended
    /// it — and `nil` while it runs.
    package var status: Int32? {
        state.withLock { state in state.raw.map(Self.decode) }
    }

    /// Whether the child is still running.
    package var isRunning: Bool { status == nil }

    /// Sends `signal` to the child, if it has not ended.
    package func send(_ signal: Int32) {
        state.withLock { state in
            if !state.exited { _ = kill(pid, signal) }
        }
    }

    /// Asks the child to end (SIGTERM) and kills it (SIGKILL) if it still runs after `grace`.
    /// Returns at once; the child is reaped when it ends.
    package func terminate(grace: Duration = .seconds(1)) {
        send(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + grace.timeInterval) { [self] in send(SIGKILL) }
    }

    /// Waits until the child has ended and returns its ``status``.
    package func exitStatus() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenEnded { continuation.resume() }
        }
        return status ?? 0
    }

    /// Waits up to `timeout` for the child to end; its ``status``, or `nil` if it still runs (or
    /// the waiting task was cancelled).
    package func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status { return status }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Blocks the calling thread until the child ends, and returns its ``status``. For synchronous
    /// helpers on threads of their own; async code uses ``wait(timeout:)`` or ``exitStatus()``.
    package func waitBlocking() -> Int32 {
        let ended = DispatchSemaphore(value: 0)
        whenEnded { ended.signal() }
        ended.wait()
        return status ?? 0
    }

    /// Calls `action` once the child has ended and been reaped (at once if it has).
    private func whenEnded(_ action: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state in
            if state.exited { return true }
            state.waiters.append(action)
            return false
        }
        if ended { action() }
    }

    private static func decode(_ raw: Int32) -> Int32 {
        (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : -(raw & 0x7f)
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29 and later, macOS 10.15 and later),
    /// looked up at run time because the Swift overlay for the C library does not declare it.
    private static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34 and later), looked up likewise.
    private static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        #if canImport(Glibc)
        dlsym(nil, name)
        #else
        dlsym(UnsafeMutableRawPointer(bitPattern: -2), name)  // RTLD_DEFAULT
        #endif
    }

    /// The descriptors open in this process, from `/proc/self/fd`.
    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }
}
