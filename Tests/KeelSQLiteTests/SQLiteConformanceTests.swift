import Foundation
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Testing

/// A fresh store file in its own temporary folder.
func temporaryStorePath(_ name: String = "keel.db") throws -> String {
    try TemporaryFolder.make("keel-tests").appendingPathComponent(name).path
}

@Suite(.timeLimit(.minutes(10))) struct SQLiteConformanceTests {
    @Test(arguments: RunStoreConformance.checks)
    func sqliteConforms(_ check: RunStoreConformance.Check) async throws {
        let path = try temporaryStorePath()
        var configuration = SQLiteRunStore.Configuration()
        configuration.maxRecoveries = RunStoreConformance.maxRecoveries
        let settings = configuration
        let store = try SQLiteRunStore(path: path, configuration: settings)
        try await check.run(RunStoreConformance.StoreUnderTest(store: store, openAnother: { try SQLiteRunStore(path: path, configuration: settings) }))
    }

    @Test(arguments: SpendLedgerConformance.checks)
    func sqliteLedgerConforms(_ check: SpendLedgerConformance.Check) async throws {
        try await check.run(try SQLiteRunStore(path: try temporaryStorePath()))
    }

    @Test(arguments: SpendLedgerConformance.checks)
    func inMemoryLedgerConforms(_ check: SpendLedgerConformance.Check) async throws {
        try await check.run(InMemorySpendLedger())
    }
}
