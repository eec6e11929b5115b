import ArgumentParser
import Foundation
import KeelApp
import KeelRuntime

/// What the CLI keeps runs in: either store is also the spend ledger.
typealias KeelStore = RunStore & SpendLedger

/// `--store` (or `--db`) and `--lock-timeout`, shared by every command that keeps runs.
struct StoreOptions: ParsableArguments {
    @Option(
        name: [.customLong("store"), .customLong("db")],
        help: ArgumentHelp("The store: a SQLite file, or a PostgreSQL URL such as postgres://keel@db:5432/keel.", valueName: "path-or-url"))
    var db = "keel.db"

    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("How long to wait for another process's write, such as 5s.", valueName: "duration"))
    var lockTimeout = "5s"

    func openStore() async throws -> any KeelStore {
        try await open().store
    }

    /// The store with the rate limiters its runs share; a store error is one line.
    func open() async throws -> OpenedStore {
        try await Self.open(db, lockTimeout: lockTimeout)
    }

    /// The store's location for messages (a URL without its password).
    var location: String { StoreLocation(db).description }

    /// Opens a SQLite file or connects to PostgreSQL, by the form of `location`; a store error is
    /// one line.
    static func open(_ location: String, lockTimeout: String = "5s") async throws -> OpenedStore {
        do {
            return try await connect(location, lockTimeout: lockTimeout)
        } catch let error as StoreError {
            throw CLIError(error.message)
        }
    }

    /// Opens a SQLite file or connects to PostgreSQL; throws ``StoreError`` as it is.
    static func connect(_ location: String, lockTimeout: String = "5s") async throws -> OpenedStore {
        guard let timeout = Duration(parsing: lockTimeout) else { throw CLIError("--lock-timeout must be a duration such as 5s, got '\(lockTimeout)'") }
        // The audit chain is keyed when the environment holds a key: every writer and every
        // verifier of one store must have the same.
        let auditKey: AuditKey?
        do {
            auditKey = try AuditKey.fromEnvironment()
        } catch {
            throw CLIError(String(describing: error))
        }
        return try await StoreLocation(location).open(lockTimeout: timeout, auditKey: auditKey)
    }
}

extension CLIError {
    /// A store or workflow error as one line.
    static func from(_ error: any Error) -> any Error {
        switch error {
        case let error as StoreError: CLIError(error.message)
        case let error as WorkflowError: CLIError(error.message, exitCode: error.code == .busy ? 3 : 1)
        case let error as InputError: CLIError(error.description)
        case let error as RunAuthority.Refusal: CLIError(error.description)
        default: error
        }
    }
}
