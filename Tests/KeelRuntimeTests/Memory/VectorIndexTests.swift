import Foundation
import KeelCore
import KeelRuntime
import KeelTesting
import Testing

@Suite(.timeLimit(.minutes(2)))
struct VectorIndexTests {
    @Test(arguments: VectorIndexConformance.checks)
    func inMemoryIndexConforms(_ check: VectorIndexConformance.Check) async throws {
        try await check.run(InMemoryVectorIndex())
    }

    @Test(arguments: FactStoreConformance.checks)
    func inMemoryFactStoreConforms(_ check: FactStoreConformance.Check) async throws {
        try await check.run(InMemoryFactStore())
    }

    /// More seeds of the isolation property, against the in-memory index (fast).
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func isolationHoldsForMoreSeeds(_ seed: UInt64) async throws {
        try await VectorIndexConformance.isolation(InMemoryVectorIndex(), seed: seed, operations: 300)
    }

    /// The isolation check catches an index that keeps a tenant's users together.
    @Test func theIsolationCheckCatchesALeak() async throws {
        struct TenantWide: VectorIndex {
            let inner = InMemoryVectorIndex()
            func wide(_ scope: MemoryScope) -> MemoryScope { MemoryScope(tenant: scope.tenant) }
            func add(_ records: [MemoryRecord]) async throws {
                try await inner.add(records.map { var record = $0; record.scope = wide($0.scope); return record })
            }
            func delete(ids: [String], in scope: MemoryScope) async throws -> Int { try await inner.delete(ids: ids, in: wide(scope)) }
            func search(_ query: [Float], k: Int, in scope: MemoryScope, filter: [String: String]) async throws -> [MemoryMatch] {
                try await inner.search(query, k: k, in: wide(scope), filter: filter)
            }
            func count(in scope: MemoryScope) async throws -> Int { try await inner.count(in: wide(scope)) }
        }
        await #expect(throws: RunStoreConformance.Failure.self) { try await VectorIndexConformance.isolation(TenantWide(), seed: 1, operations: 300) }
    }

    @Test func theDotProductMatchesAPlainLoopForEveryLength() throws {
        var random = SeededRandomGenerator(seed: 9)
        for count in [1, 7, 8, 9, 16, 383, 384, 385] {
            let a = (0..<count).map { _ in Float(Int(random.next() % 2_001) - 1_000) / 1_000 }
            let b = (0..<count).map { _ in Float(Int(random.next() % 2_001) - 1_000) / 1_000 }
            let plain = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let simd = a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { VectorMath.dot(a, $0) } }
            #expect(abs(plain - simd) < 1e-3, "length \(count): \(plain) vs \(simd)")
        }
    }

    @Test func theHashingEmbedderIsDeterministicAndPutsSharedWordsClose() async throws {
        let embedder = HashingEmbedder(dimensions: 384)
        let vectors = try await embedder.embed(["High tides follow the moon.", "The moon drives the tides.", "Quarterly invoices are overdue."]).vectors
        #expect(vectors.allSatisfy { $0.count == 384 })
        #expect(try await embedder.embed(["High tides follow the moon."]).vectors[0] == vectors[0])
        func cosine(_ a: [Float], _ b: [Float]) -> Float { a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { VectorMath.dot(a, $0) } } }
        #expect(abs(cosine(vectors[0], vectors[0]) - 1) < 1e-5)
        #expect(cosine(vectors[0], vectors[1]) > 0.3)
        #expect(cosine(vectors[0], vectors[2]) < 0.1)
        #expect(try await embedder.embed([""]).vectors[0].contains(1))
    }
}
