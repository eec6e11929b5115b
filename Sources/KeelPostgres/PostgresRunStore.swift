import Foundation
import KeelCore
import KeelRuntime
import Logging
import PostgresNIO

/// Keel's store for many workers on many machines: runs, journal, signals, leases, approvals, the
/// audit log and the spend ledger in PostgreSQL.
///
/// ```swift
/// let store = try await PostgresRunStore.connect("postgres://keel@db.internal:5432/keel")
/// let runtime = DurableRuntime(store: store, workflows: [AnyWorkflow(report)])
/// try await runtime.work(concurrency: 8)          // a worker: claims runs until cancelled
/// await store.close()
/// ```
///
/// Workers claim runnable runs with `FOR UPDATE SKIP LOCKED`, so two never take the same one; a
/// claim is a lease with a fencing epoch, and every journal write checks the epoch in the same
/// transaction, so a worker whose lease was taken over (killed, frozen, cut off) cannot commit.
/// The schema is created and upgraded by versioned migrations when the store connects; two
/// workers connecting at once take turns.
public final class PostgresRunStore: RunStore {
    /// Where and how to connect.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// Connections kept open at most. Default: 16.
        public var maximumConnections = 16
        /// How long to wait for a connection. Default: 10 seconds.
        public var connectTimeout: Duration = .seconds(10)
        /// The longest one store call may take, connection included, before it fails as
        /// ``StoreError/Code/unavailable`` and is abandoned (the run is then given back and
        /// resumed). A guard against a call that never returns — PostgresNIO can leave one hanging
        /// when the server restarts under it. Default: 15 seconds.
        public var operationTimeout: Duration = .seconds(15)
        /// Whether and how connections use TLS (`sslmode`). Default: ``TLSMode/disable``, as Keel
        /// always did (libpq's default is `prefer`); set it for a server beyond a trusted network.
        public var tlsMode: TLSMode = .disable
        /// A PEM file of the roots that sign the server's certificate (`sslrootcert`). Default:
        /// none (the system's roots, for the verifying modes).
        public var rootCertificatePath: String?
        /// How many times in a row a run may be taken over from a worker that stopped while running
        /// it (its lease lapsed, or its process is gone) without finishing a step, before it is
        /// quarantined: failed into the dead-letter queue, so that a run that crashes whoever runs
        /// it does not take every worker down in turn. Finishing a step starts the count again.
        /// Default: 50 — well past what deploys and kills do to a healthy run (a process killed
        /// before it finishes its first step after a restart counts too).
        public var maxRecoveries: Int = 50
        /// The key of a keyed audit chain (HMAC-SHA256), such as ``KeelRuntime/AuditKey/fromEnvironment(_:)``.
        /// Default: none (a SHA-256 chain).
        public var auditKey: AuditKey?

        public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
        }

        /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…&passfile=…]`
        /// (or `postgresql://`), with libpq's environment variables for what the URL leaves out:
        /// `PGSSLMODE`, `PGSSLROOTCERT`, and for the password `PGPASSWORD`, then the password file
        /// (`passfile`, `PGPASSFILE`, or `~/.pgpass`) — so that the password need not be on a
        /// command line, where every user of the machine can read it.
        public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            guard let components = URLComponents(string: text), let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme),
                let host = components.host, !host.isEmpty
            else {
                throw StoreError(.invalidState, "'\(text)' is not a PostgreSQL URL; write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
            }
            let database = String(components.path.drop { $0 == "/" })
            guard let user = components.user, !user.isEmpty, !database.isEmpty else {
                throw StoreError(.invalidState, "'\(text)' needs a user and a database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
            }
            var parameters: [String: String] = [:]
            for item in components.queryItems ?? [] {
                guard ["sslmode", "sslrootcert", "passfile"].contains(item.name) else {
                    throw StoreError(.invalidState, "'\(item.name)' is not a connection parameter Keel reads; use sslmode, sslrootcert or passfile")
                }
                parameters[item.name] = item.value ?? ""
            }
            let port = components.port ?? 5432
            var password = components.password ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            if password == nil {
                let home = environment["HOME"].map { "\($0)/.pgpass" }
                if let passfile = parameters["passfile"] ?? environment["PGPASSFILE"] ?? home,
                    let contents = try? String(contentsOfFile: passfile, encoding: .utf8)
                {
                    password = PostgresRunStore.password(fromPassfile: contents, host: host, port: port, database: database, user: user)
                } else if let passfile = parameters["passfile"] {
                    throw StoreError(.invalidState, "the password file \(passfile) (passfile) cannot be read")
                }
            }
            self.init(host: host, port: port, username: user, password: password, database: database)
            if let mode = parameters["sslmode"] ?? environment["PGSSLMODE"] {
                guard let parsed = TLSMode(rawValue: mode) else {
                    throw StoreError(.invalidState, "sslmode '\(mode)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tlsMode = parsed
            }
            rootCertificatePath = parameters["sslrootcert"] ?? environment["PGSSLROOTCERT"]
        }

        /// The URL without the password, for messages.
        public var displayURL: String { "postgres://\(username)@\(host):\(port)/\(database)" }
    }

    public let configuration: Configuration
    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger

    private init(configuration: Configuration, tls: TLSSetting, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var config = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username, password: configuration.password,
            database: configuration.database, tls: tls.client)
        config.options.maximumConnections = configuration.maximumConnections
        config.options.connectTimeout = configuration.connectTimeout
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    deinit {
        runner.cancel()
    }

    /// Connects to the database at `url` and brings its schema up to date.
    ///
    /// - Throws: ``StoreError/Code/unavailable`` when the server cannot be reached,
    ///   ``StoreError/Code/newerSchema`` when a newer Keel wrote the schema.
    public static func connect(_ url: String, logger: Logger = Logger(label: "keel.postgres")) async throws -> PostgresRunStore {
        try await connect(Configuration(url: url), logger: logger)
    }

    /// Connects with `configuration` and brings the schema up to date.
    public static func connect(_ configuration: Configuration, logger: Logger = Logger(label: "keel.postgres")) async throws -> PostgresRunStore {
        let tls = try TLSSetting(configuration.tlsMode, rootCertificate: configuration.rootCertificatePath)
        try await probe(configuration, tls: tls, logger: logger)
        let store = PostgresRunStore(configuration: configuration, tls: tls, logger: logger)
        // Let the client's run loop start before the first query asks it for a connection.
        try? await Task.sleep(for: .milliseconds(5))
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// One plain connection, opened and closed, so that a server that is down, a wrong password or
    /// a missing database is reported at once and precisely — the pool would keep retrying.
    private static func probe(_ configuration: Configuration, tls: TLSSetting, logger: Logger) async throws {
        let settings = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username, password: configuration.password,
            database: configuration.database, tls: try tls.connection())
        let url = configuration.displayURL
        do {
            try await withTimeLimit(configuration.connectTimeout, onTimeout: {
                StoreError(.unavailable, "cannot reach PostgreSQL at \(url) within \(configuration.connectTimeout)")
            }) {
                let connection = try await PostgresConnection.connect(configuration: settings, id: 0, logger: logger)
                try await connection.close()
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw PostgresRunStore.describe(error, url: url)
        }
    }

    /// Closes the connections. The store cannot be used afterwards.
    public func close() async {
        runner.cancel()
        _ = await runner.value
    }

    // MARK: Access with errors mapped

    /// Runs `body` in a transaction; any error rolls it back.
    func write<T: Sendable>(_ function: String = #function, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await limited(function) { [client, logger] in
                try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        } catch let error as StoreError {
            throw error
        } catch let error as PostgresTransactionError {
            // The closure's own errors (a refusal, a rate limit) pass through as they are.
            if let closure = error.closureError, !(closure is PSQLError), !(closure is PostgresDecodingError) { throw closure }
            throw storeError(error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError ?? error)
        } catch {
            throw storeError(error)
        }
    }

    /// Runs one statement that needs no transaction around it (it is atomic on its own).
    func statement<T: Sendable>(_ function: String = #function, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await read(function, body)
    }

    /// Runs `body` on one connection, outside a transaction.
    func read<T: Sendable>(_ function: String = #function, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await limited(function) { [client] in
                try await client.withConnection { connection in try await body(connection) }
            }
        } catch let error as StoreError {
            throw error
        } catch let error as MemoryError {
            throw error
        } catch {
            throw storeError(error)
        }
    }

    /// Runs one store call within ``Configuration/operationTimeout``; a call that outlasts it is
    /// abandoned (its writes are fenced by the lease, so it cannot commit after the run moves on).
    private func limited<T: Sendable>(_ function: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let (limit, url, logger) = (configuration.operationTimeout, configuration.displayURL, logger)
        return try await withTimeLimit(limit, onTimeout: {
            logger.warning("\(function) on PostgreSQL took longer than \(limit); given up")
            return StoreError(.unavailable, "PostgreSQL at \(url) did not answer within \(limit)")
        }, body)
    }

    func storeError(_ error: any Error) -> StoreError {
        Self.describe(error, url: configuration.displayURL)
    }

    /// A PostgresNIO error as a one-line store error.
    static func describe(_ error: any Error, url: String) -> StoreError {
        if let error = error as? PSQLError, error.code == .authMechanismRequiresPassword {
            return StoreError(
                .refused,
                "PostgreSQL at \(url) asks for a password: give it in PGPASSWORD, a password file (PGPASSFILE, ~/.pgpass or ?passfile=PATH) or the URL")
        }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState] ?? ""
                if state.hasPrefix("28") || state.hasPrefix("3D") {
                    let hint = message.contains("no encryption") ? "; connect with TLS: add ?sslmode=require (or verify-full) to the URL" : ""
                    return StoreError(.refused, "PostgreSQL at \(url) refused the connection: \(message) (\(state))\(hint)")
                }
                if state == "40001" || state == "40P01" {
                    return StoreError(.locked, "PostgreSQL at \(url) gave up a transaction that collided with another (\(message)); try again")
                }
                return StoreError(.unavailable, "PostgreSQL at \(url) refused: \(message) (\(state))", underlying: PostgresFailure(description: message))
            }
            let cause = error.underlying.map { ": \($0)" } ?? ""
            return StoreError(
                .unavailable, "cannot reach PostgreSQL at \(url) (\(error.code)\(cause)); check that it runs and accepts connections",
                underlying: PostgresFailure(description: String(reflecting: error)))
        }
        if error is PostgresDecodingError {
            return StoreError(.corrupt, "a row in PostgreSQL at \(url) does not have the shape Keel wrote")
        }
        if error is CancellationError { return StoreError(.unavailable, "the request to PostgreSQL at \(url) was cancelled") }
        return StoreError(.unavailable, "PostgreSQL at \(url) failed: \(error)", underlying: PostgresFailure(description: "\(error)"))
    }
}

/// A database error kept as its description.
struct PostgresFailure: Error, Sendable, CustomStringConvertible {
    let description: String
}

// MARK: - Rows

/// One row's columns by name.
struct Columns {
    let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) {
        self.row = row.makeRandomAccess()
    }

    func callAsFunction<T: PostgresDecodable>(_ name: String) throws -> T {
        try row[name].decode(T.self)
    }
}

extension PostgresConnection {
    /// Runs `query` and returns all its rows.
    @discardableResult
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await self.query(query, logger: logger).collect()
    }
}
