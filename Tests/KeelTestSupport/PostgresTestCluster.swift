import Foundation
import KeelCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A throwaway PostgreSQL cluster for tests and benchmarks, made from the installed server
/// binaries: `initdb` into a temporary folder, the server on a free loopback port, and each test
/// its own database. Nothing needs to be set up by hand.
///
/// The server runs as a non-root user (PostgreSQL refuses root): when the tests run as root, as
/// the `postgres` user (or `nobody`). A watchdog beside it stops the server and deletes its
/// folder when the process that started it exits — however it exits.
///
/// ```swift
/// let cluster = try await PostgresTestCluster.shared()
/// let url = try await cluster.createDatabase()   // postgres://keel@127.0.0.1:PORT/test_1
/// ```
///
/// Set `KEEL_POSTGRES_BIN` to the folder holding `initdb` and `postgres` when they are not in
/// `/usr/lib/postgresql/*/bin` or on the `PATH`.
public final class PostgresTestCluster: Sendable {
    /// Why the cluster could not be made.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let folder: URL
    /// The data directory: in ``folder``, or on the disk the cluster was started with.
    public let dataFolder: URL
    private let binaries: URL
    private let user: String?
    private let fsync: Bool
    private let counter = Atomic(0)

    private init(port: Int, folder: URL, dataFolder: URL, binaries: URL, user: String?, fsync: Bool) {
        self.port = port
        self.folder = folder
        self.dataFolder = dataFolder
        self.binaries = binaries
        self.user = user
        self.fsync = fsync
    }

    private static let starting = SharedCluster()

    /// The cluster of this process, started on first use.
    public static func shared() async throws -> PostgresTestCluster {
        try await starting.cluster()
    }

    private actor SharedCluster {
        var started: Task<PostgresTestCluster, any Error>?

        func cluster() async throws -> PostgresTestCluster {
            if let started { return try await started.value }
            let task = Task { try await PostgresTestCluster.start(fsync: false) }
            started = task
            return try await task.value
        }
    }

    /// The URL of the cluster's `postgres` database (for administration).
    public var adminURL: String { "postgres://keel@127.0.0.1:\(port)/postgres" }

    /// Creates a new, empty database and returns its URL.
    ///
    /// One at a time per test process: dozens of suites asking at once (each a `createdb` process
    /// and a server backend copying the template) starve a small machine for long enough that
    /// other tests' connections time out.
    public func createDatabase(_ prefix: String = "test") async throws -> String {
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let name = "\(prefix)_\(ProcessInfo.processInfo.processIdentifier)_\(number)"
        _ = try await Self.oneAtATime.run {
            try await Self.execute(self.binaries.appendingPathComponent("createdb"), ["-h", "127.0.0.1", "-p", "\(self.port)", "-U", "keel", name], as: nil)
        }
        return "postgres://keel@127.0.0.1:\(port)/\(name)"
    }

    private static let oneAtATime = Turns()

    /// Runs bodies one after another, in the order they asked.
    private actor Turns {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
            if busy {
                await withCheckedContinuation { waiting.append($0) }
            } else {
                busy = true
            }
            defer {
                if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
            }
            return try await body()
        }
    }

    /// Runs `sql` with `psql` against the database at `url` (one of this cluster's) and returns
    /// what it printed: rows unaligned, without headers. For tests that must change a table
    /// behind Keel's back.
    @discardableResult
    public func psql(_ url: String, _ sql: String) async throws -> String {
        try await Self.execute(binaries.appendingPathComponent("psql"), ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], as: nil)
    }

    /// The self-signed certificate of a cluster started with TLS (PEM), which clients can trust
    /// as their root (`sslrootcert`); `nil` otherwise.
    public var certificate: URL? {
        let file = dataFolder.appendingPathComponent("server.crt")
        return FileManager.default.fileExists(atPath: file.path) ? file : nil
    }

    /// Starts a cluster for the length of this process. With `fsync` off the cluster is fast and
    /// survives a process crash but not a power loss — right for tests; benchmarks turn it on.
    ///
    /// With `tls`, the server has a self-signed certificate for 127.0.0.1 (``certificate``) and
    /// refuses connections without TLS; the role `secret` (password `s3cret`) must give its
    /// password, everyone else is trusted.
    ///
    /// With `dataDisk`, the data directory is made there (such as a ``SmallDisk``) and the
    /// write-ahead log stays in the cluster's folder: tables fill that disk, and the server reports
    /// it full as an error instead of stopping, as it must when it cannot write its log.
    public static func start(fsync: Bool, tls: Bool = false, dataDisk: URL? = nil) async throws -> PostgresTestCluster {
        let binaries = try findBinaries()
        let user = try serverUser()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keel-postgres-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let user { try handOver(folder, to: user) }
        let data = (dataDisk ?? folder).appendingPathComponent("data")
        let waldir = dataDisk == nil ? [] : ["--waldir", folder.appendingPathComponent("wal").path]
        try await execute(
            binaries.appendingPathComponent("initdb"),
            ["-D", data.path, "-U", "keel", "--auth=trust", "--encoding=UTF8", "--no-instructions", "--no-sync"] + waldir, as: user?.name)
        if tls { try await enableTLS(in: data, user: user) }
        let port = try freePort()
        let cluster = PostgresTestCluster(port: port, folder: folder, dataFolder: data, binaries: binaries, user: user?.name, fsync: fsync)
        try await cluster.startServer()
        if tls { try await cluster.psql(cluster.adminURL, "CREATE ROLE secret LOGIN PASSWORD 's3cret'; GRANT ALL ON DATABASE postgres TO secret") }
        // The watchdog: when this process is gone, the server stops and its folder goes.
        let script = """
            while [ -d "/proc/$3" ]; do sleep 0.5; done
            "$1/pg_ctl" -D "$4" -m immediate stop > /dev/null 2>&1
            rm -rf "$2"
            """
        let arguments = ["/bin/sh", "-c", script, "watchdog", binaries.path, folder.path, "\(ProcessInfo.processInfo.processIdentifier)", data.path]
        let argv = user.map { ["/usr/sbin/runuser", "-u", $0.name, "--"] + arguments } ?? arguments
        do {
            _ = try SpawnedChild(argv[0], Array(argv.dropFirst()))
        } catch {
            throw Failure(description: "cannot start the cluster's watchdog: \(error)")
        }
        return cluster
    }

    /// A self-signed certificate for 127.0.0.1 and `localhost`, TLS on, and connections without
    /// TLS refused.
    private static func enableTLS(in data: URL, user: User?) async throws {
        let key = data.appendingPathComponent("server.key")
        let certificate = data.appendingPathComponent("server.crt")
        try await execute(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-out", certificate.path, "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], as: user?.name)
        guard chmod(key.path, 0o600) == 0 else { throw Failure(description: "cannot make \(key.path) private") }
        let configuration = data.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: configuration)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\npassword_encryption = 'scram-sha-256'\n".utf8))
        try handle.close()
        let rules = """
            local all all trust
            hostnossl all all 127.0.0.1/32 reject
            hostssl all secret 127.0.0.1/32 scram-sha-256
            hostssl all all 127.0.0.1/32 trust

            """
        try rules.write(to: data.appendingPathComponent("pg_hba.conf"), atomically: false, encoding: .utf8)
    }

    /// Starts the server (again) and waits until it accepts connections.
    public func startServer() async throws {
        let options = "-p \(port) -h 127.0.0.1 -k \(folder.path) -c fsync=\(fsync ? "on" : "off") -c synchronous_commit=\(fsync ? "on" : "off") -c max_connections=1000 -c shared_buffers=128MB"
        try await Self.execute(
            binaries.appendingPathComponent("pg_ctl"),
            ["-D", dataFolder.path, "-l", folder.appendingPathComponent("server.log").path, "-o", options, "-w", "-t", "60", "start"],
            as: user)
    }

    /// Stops the server, as an outage would: clients lose their connections.
    public func stopServer() async throws {
        try await Self.execute(binaries.appendingPathComponent("pg_ctl"), ["-D", dataFolder.path, "-m", "fast", "-w", "stop"], as: user)
    }

    // MARK: Helpers

    static func findBinaries() throws -> URL {
        let fileManager = FileManager.default
        if let folder = ProcessInfo.processInfo.environment["KEEL_POSTGRES_BIN"] { return URL(fileURLWithPath: folder) }
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? fileManager.contentsOfDirectory(atPath: root.path)) ?? []).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        for version in versions where fileManager.isExecutableFile(atPath: root.appendingPathComponent("\(version)/bin/initdb").path) {
            return root.appendingPathComponent("\(version)/bin")
        }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fileManager.isExecutableFile(atPath: "\(folder)/initdb") {
            return URL(fileURLWithPath: String(folder))
        }
        throw Failure(description: "no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or on the PATH; install them or set KEEL_POSTGRES_BIN")
    }

    struct User {
        let name: String
        let uid: uid_t
        let gid: gid_t
    }

    /// The user to run the server as: none (this one) unless this process is root.
    static func serverUser() throws -> User? {
        guard getuid() == 0 else { return nil }
        for name in ["postgres", "nobody"] {
            if let entry = getpwnam(name) { return User(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid) }
        }
        throw Failure(description: "running as root, and there is no postgres or nobody user to run PostgreSQL as")
    }

    static func handOver(_ url: URL, to user: User) throws {
        guard chown(url.path, user.uid, user.gid) == 0 else {
            throw Failure(description: "cannot hand \(url.path) to \(user.name): \(String(cString: strerror(errno)))")
        }
    }

    static func freePort() throws -> Int {
        #if canImport(Glibc)
        let streamType = Int32(SOCK_STREAM.rawValue)
        #else
        let streamType = SOCK_STREAM
        #endif
        let descriptor = socket(AF_INET, streamType, 0)
        guard descriptor >= 0 else { throw Failure(description: "cannot open a socket to find a free port") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else { throw Failure(description: "cannot bind a loopback socket to find a free port") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a program to completion, as `user` when given; throws with its output when it fails.
    ///
    /// Spawned and reaped directly (``SpawnedProcess``, not `Process`, which can miss the exit of
    /// a program that leaves a daemon behind, as `pg_ctl start` does, and whose children inherit
    /// every descriptor of this process); its output goes to a file, not a pipe the daemon would
    /// hold open. Waiting does not block a thread.
    @discardableResult
    static func execute(_ program: URL, _ arguments: [String], as user: String?) async throws -> String {
        let argv = user.map { ["/usr/sbin/runuser", "-u", $0, "--", program.path] + arguments } ?? [program.path] + arguments
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("keel-pg-output-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let child: SpawnedProcess
        do {
            child = try SpawnedProcess(argv[0], Array(argv.dropFirst()), output: outputFile)
        } catch {
            throw Failure(description: "\(error)")
        }
        let status = await child.exitStatus()
        let text = child.outputText
        guard status == 0 else {
            throw Failure(description: "\(program.lastPathComponent) failed (\(status > 0 ? "exit \(status)" : "signal \(-status)")): \(text.suffix(500))")
        }
        return text
    }
}
