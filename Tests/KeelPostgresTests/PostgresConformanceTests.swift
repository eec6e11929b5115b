import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// A fresh database on the test process's own PostgreSQL cluster.
func freshStore() async throws -> (PostgresRunStore, String) {
    let url = try await PostgresTestCluster.shared().createDatabase()
    return (try await connectForTests(url), url)
}

/// A store with room for a loaded machine: the suites beside this one keep both cores busy, and
/// a connection that takes more than the default 10 s is slow, not broken.
func connectForTests(_ url: String, maxRecoveries: Int? = nil) async throws -> PostgresRunStore {
    var configuration = try PostgresRunStore.Configuration(url: url)
    if let maxRecoveries { configuration.maxRecoveries = maxRecoveries }
    configuration.connectTimeout = .seconds(60)
    configuration.operationTimeout = .seconds(60)
    configuration.maximumConnections = 4
    return try await PostgresRunStore.connect(configuration)
}

@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresConformanceTests {
    @Test(arguments: RunStoreConformance.checks)
    func postgresConforms(_ check: RunStoreConformance.Check) async throws {
        let url = try await PostgresTestCluster.shared().createDatabase()
        let store = try await connectForTests(url, maxRecoveries: RunStoreConformance.maxRecoveries)
        let others = Locked<[PostgresRunStore]>([])
        try await check.run(RunStoreConformance.StoreUnderTest(store: store, openAnother: {
            let another = try await connectForTests(url)
            others.withLock { $0.append(another) }
            return another
        }))
        for another in others.value { await another.close() }
        await store.close()
    }

    @Test(arguments: SpendLedgerConformance.checks)
    func postgresLedgerConforms(_ check: SpendLedgerConformance.Check) async throws {
        let (store, _) = try await freshStore()
        try await check.run(store)
        await store.close()
    }

    @Test(arguments: VectorIndexConformance.checks)
    func postgresVectorIndexConforms(_ check: VectorIndexConformance.Check) async throws {
        let (store, _) = try await freshStore()
        try await check.run(store)
        await store.close()
    }

    @Test(arguments: SessionStoreConformance.checks)
    func postgresSessionStoreConforms(_ check: SessionStoreConformance.Check) async throws {
        let (store, _) = try await freshStore()
        try await check.run(store)
        await store.close()
    }

    @Test(arguments: FactStoreConformance.checks)
    func postgresFactStoreConforms(_ check: FactStoreConformance.Check) async throws {
        let (store, _) = try await freshStore()
        try await check.run(store)
        await store.close()
    }
}

/// Scoped steps on PostgreSQL: parallel agents and a fan-out in one run, killed 20 times.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresScopedStepsTests {
    @Test func parallelAgentsAndAFanOutSurviveKills() async throws {
        let (store, _) = try await freshStore()
        let report = try await ScopedRunKills.run(on: store, kills: 20)
        await store.close()
        #expect(report.kills == 20)
        #expect(report.output == ScopedRunKills.Report.expectedOutput(fanOut: 12))
        #expect(report.callsByBranch.count == 14)
        #expect(report.extraCallsWithinBound, "\(report.callsByBranch)")
        #expect(Set(report.journal.map(\.scope)) == Set(["", "writer", "critic"] + (0..<12).map { "research/agent-\($0)" }))
    }
}
