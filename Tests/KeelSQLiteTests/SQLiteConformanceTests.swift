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

    @Test(arguments: VectorIndexConformance.checks)
    func sqliteVectorIndexConforms(_ check: VectorIndexConformance.Check) async throws {
        try await check.run(try SQLiteRunStore(path: try temporaryStorePath()))
    }

    @Test(arguments: FactStoreConformance.checks)
    func sqliteFactStoreConforms(_ check: FactStoreConformance.Check) async throws {
        try await check.run(try SQLiteRunStore(path: try temporaryStorePath()))
    }

    /// Vectors written by one process are searched by another, and survive reopening the file.
    @Test func vectorsPersistAcrossOpenings() async throws {
        let path = try temporaryStorePath()
        let scope = MemoryScope(tenant: "acme", user: "ann")
        let embedder = HashingEmbedder()
        let texts = ["The tide rises twice a day.", "Invoices are due in thirty days.", "Wind turbines turn faster in winter."]
        let vectors = try await embedder.embed(texts).vectors
        try await SQLiteRunStore(path: path).add(zip(texts, vectors).map { MemoryRecord(id: $0.0, scope: scope, text: $0.0, vector: $0.1) })
        let query = try await embedder.embed(["When is an invoice due?"]).vectors[0]
        let matches = try await SQLiteRunStore(path: path).search(query, k: 1, in: scope)
        #expect(matches.map(\.text) == ["Invoices are due in thirty days."])
        #expect(try await SQLiteRunStore(path: path).search(query, k: 1, in: MemoryScope(tenant: "acme")).isEmpty)
    }

    @Test(arguments: SpendLedgerConformance.checks)
    func inMemoryLedgerConforms(_ check: SpendLedgerConformance.Check) async throws {
        try await check.run(InMemorySpendLedger())
    }
}
