import KeelCore
import KeelPostgres
import KeelRuntime
import KeelSQLite

/// Where runs are kept: a SQLite file, or a PostgreSQL URL such as
/// `postgres://keel@db:5432/keel`, told apart by the form of the string.
///
/// ```swift
/// let opened = try await StoreLocation("keel.db").open()
/// let runtime = Application.runtime(opened, authority: RunAuthority())
/// ```
public struct StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// The path or URL as given.
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// Whether this is a PostgreSQL URL (`postgres://` or `postgresql://`).
    public var isPostgres: Bool {
        value.hasPrefix("postgres://") || value.hasPrefix("postgresql://")
    }

    /// The location for messages: a URL without its password.
    public var description: String {
        guard isPostgres, let configuration = try? PostgresRunStore.Configuration(url: value) else { return value }
        return configuration.displayURL
    }

    /// Opens the SQLite file or connects to PostgreSQL.
    ///
    /// - Parameters:
    ///   - lockTimeout: how long a write waits for another process's (SQLite), and at least
    ///     2 s, how long a connection may take (PostgreSQL).
    ///   - auditKey: the key of a keyed audit chain; every writer and verifier of one store
    ///     must have the same.
    /// - Throws: ``StoreError`` — `.unavailable` while PostgreSQL cannot be reached.
    public func open(lockTimeout: Duration = .seconds(5), auditKey: AuditKey? = nil) async throws -> OpenedStore {
        if isPostgres {
            var configuration = try PostgresRunStore.Configuration(url: value)
            configuration.auditKey = auditKey
            configuration.connectTimeout = max(lockTimeout, .seconds(2))
            let store = try await PostgresRunStore.connect(configuration)
            // Workers on one database pace themselves together.
            let limiters = RateLimiters { key, limits in PostgresRateLimiter(store: store, key: key, limits: limits) }
            return OpenedStore(store: store, rateLimiters: limiters, location: self)
        }
        var configuration = SQLiteRunStore.Configuration()
        configuration.busyTimeout = lockTimeout
        configuration.auditKey = auditKey
        return OpenedStore(store: try await SQLiteRunStore.open(path: value, configuration: configuration), rateLimiters: .shared, location: self)
    }
}

/// An opened store: its runs and spend ledger, and the rate limiters that runs on it share — in
/// this process for SQLite, in the database for every worker of a PostgreSQL store.
public struct OpenedStore: Sendable {
    public let store: any RunStore & SpendLedger
    public let rateLimiters: RateLimiters
    public let location: StoreLocation

    public init(store: any RunStore & SpendLedger, rateLimiters: RateLimiters = .shared, location: StoreLocation) {
        self.store = store
        self.rateLimiters = rateLimiters
        self.location = location
    }
}
