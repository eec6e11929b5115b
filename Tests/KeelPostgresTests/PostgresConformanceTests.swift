import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTesting
import Testing

/// A fresh database on the test process's own PostgreSQL cluster.
func freshStore() async throws -> (PostgresRunStore, String) {
    let url = try await PostgresTestCluster.shared().createDatabase()
    return (try await PostgresRunStore.connect(url), url)
}

@Suite(.timeLimit(.minutes(10))) struct PostgresConformanceTests {
    @Test(arguments: RunStoreConformance.checks)
    func postgresConforms(_ check: RunStoreConformance.Check) async throws {
        let (store, url) = try await freshStore()
        let others = Locked<[PostgresRunStore]>([])
        try await check.run(RunStoreConformance.StoreUnderTest(store: store, openAnother: {
            let another = try await PostgresRunStore.connect(url)
            others.withLock { $0.append(another) }
            return another
        }))
        for another in others.value { await another.close() }
        await store.close()
    }
}
