import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a child inherits: its three standard streams and nothing else, while this process holds a
/// listening socket, an open connection to it, a SQLite database and a PostgreSQL connection.
/// Read from `/proc/PID/fd`, so Linux only.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct SpawnedDescriptorTests {
    #if os(Linux)
    @Test func aSpawnedProcessGetsOnlyItsStandardStreams() async throws {
        try await withOpenDescriptors {
            let folder = try TemporaryFolder.make("keel-fds")
            let child = try SpawnedProcess("/bin/sleep", ["30"], output: folder.appendingPathComponent("out"))
            defer { child.send(SIGKILL) }
            let descriptors = try await Self.settledDescriptors(of: child.pid)
            #expect(descriptors == ["0", "1", "2"], "\(descriptors.map { ($0, (try? Self.target(of: child.pid, $0)) ?? "?") })")
        }
    }

    @Test func childrenAreReapedWithoutAnyoneWaiting() async throws {
        let folder = try TemporaryFolder.make("keel-reap")
        // Each child by its PID and start time: the other suites start processes too, and once a
        // child is reaped its PID may be another child's, briefly a zombie of its own.
        var children: [(pid: pid_t, started: String)] = []
        for index in 0..<20 {
            let child = try SpawnedProcess("/bin/sleep", ["30"], output: folder.appendingPathComponent("out-\(index)"))
            let started = Self.startTime(of: child.pid)
            child.send(SIGKILL)
            if let started { children.append((child.pid, started)) }
        }
        #expect(children.count >= 10, "the children's start times were readable")
        // A zombie keeps its /proc entry (state Z) until it is reaped.
        func zombies() -> [pid_t] {
            children.filter { Self.isZombie($0.pid) && Self.startTime(of: $0.pid) == $0.started }.map(\.pid)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        var left = zombies()
        while !left.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            left = zombies()
        }
        #expect(left.isEmpty)
    }

    /// The process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
    static func startTime(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// Runs `body` while this process holds a listening socket, a connection to it, a SQLite
    /// database and a PostgreSQL connection, and checks that it does hold them.
    func withOpenDescriptors(_ body: () async throws -> Void) async throws {
        let folder = try TemporaryFolder.make("keel-fds-db")
        let sqlite = try SQLiteRunStore(path: folder.appendingPathComponent("runs.db").path)
        _ = try await sqlite.listRuns(RunQuery(limit: 1))
        // With room for a loaded machine: the suites beside this one keep both cores busy.
        var settings = try PostgresRunStore.Configuration(url: try await PostgresTestCluster.shared().createDatabase("fds"))
        settings.connectTimeout = .seconds(60)
        let postgres = try await PostgresRunStore.connect(settings)
        _ = try await postgres.listRuns(RunQuery(limit: 1))
        try await OpenAICompatibleServer.withServer(responder: .scripted([])) { server in
            let connection = try await LoopbackConnection.open(port: server.port)
            defer { close(connection) }
            let mine = try Self.descriptors(of: getpid())
            let sockets = mine.filter { (try? Self.target(of: getpid(), $0).hasPrefix("socket:")) == true }
            #expect(sockets.count >= 3, "expected a listener, both ends of a connection and a PostgreSQL socket")
            #expect(mine.contains { (try? Self.target(of: getpid(), $0).hasSuffix("runs.db")) == true })
            try await body()
        }
        await postgres.close()
    }

    /// The descriptors of a child that has started: its dynamic loader briefly holds the
    /// libraries it opens (fd 3), so this waits up to 5 s for exactly the standard three. An
    /// inherited descriptor never goes away, so the wait cannot hide one.
    static func settledDescriptors(of pid: pid_t) async throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(5)
        var descriptors = try descriptors(of: pid)
        while descriptors != ["0", "1", "2"], ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            descriptors = try Self.descriptors(of: pid)
        }
        return descriptors
    }

    static func descriptors(of pid: pid_t) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
    }

    static func target(of pid: pid_t, _ descriptor: String) throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)")
    }

    /// Whether `pid` is a zombie child of this process (a PID reused by another process, which
    /// happens on a busy machine, does not count).
    static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[0] == "Z" && pid_t(fields[1]) == getpid()
    }

    #endif
}
