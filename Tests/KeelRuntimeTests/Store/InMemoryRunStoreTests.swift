import KeelRuntime
import KeelTesting
import Testing

/// The in-memory store keeps the database stores' rules: it passes the same conformance suites.
@Suite(.timeLimit(.minutes(5))) struct InMemoryRunStoreTests {
    @Test(arguments: RunStoreConformance.checks)
    func inMemoryStoreConforms(_ check: RunStoreConformance.Check) async throws {
        let store = InMemoryRunStore(maxRecoveries: RunStoreConformance.maxRecoveries)
        // Another handle on memory is the same store.
        try await check.run(RunStoreConformance.StoreUnderTest(store: store, openAnother: { store }))
    }

    @Test(arguments: SpendLedgerConformance.checks)
    func inMemoryStoreLedgerConforms(_ check: SpendLedgerConformance.Check) async throws {
        try await check.run(InMemoryRunStore())
    }
}
