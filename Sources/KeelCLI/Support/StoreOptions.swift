import ArgumentParser
import Foundation
import KeelRuntime
import KeelSQLite

/// `--db`, shared by every command that keeps runs.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The SQLite store file.", valueName: "path"))
    var db = "keel.db"

    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("How long to wait for another process's write, such as 5s.", valueName: "duration"))
    var lockTimeout = "5s"

    func openStore() throws -> SQLiteRunStore {
        try Self.openStore(path: db, lockTimeout: lockTimeout)
    }

    static func openStore(path: String, lockTimeout: String = "5s") throws -> SQLiteRunStore {
        guard let timeout = Duration(parsing: lockTimeout) else { throw CLIError("--lock-timeout must be a duration such as 5s, got '\(lockTimeout)'") }
        var configuration = SQLiteRunStore.Configuration()
        configuration.busyTimeout = timeout
        do {
            return try SQLiteRunStore(path: path, configuration: configuration)
        } catch let error as StoreError {
            throw CLIError(error.message)
        }
    }
}

extension CLIError {
    /// A store or workflow error as one line.
    static func from(_ error: any Error) -> any Error {
        switch error {
        case let error as StoreError: CLIError(error.message)
        case let error as WorkflowError: CLIError(error.message, exitCode: error.code == .busy ? 3 : 1)
        default: error
        }
    }
}
