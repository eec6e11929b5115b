import Foundation
import Synchronization

/// A ``VectorIndex`` in this process's memory, for tests and short-lived agents.
public final class InMemoryVectorIndex: VectorIndex {
    private let records = Mutex<[MemoryScope: [String: MemoryRecord]]>([:])

    public init() {}

    public func add(_ records: [MemoryRecord]) async throws {
        let checked = try records.map { try $0.validated() }
        try self.records.withLock { stored in
            var dimensions: [MemoryScope: Int] = [:]
            for record in checked {
                let expected = dimensions[record.scope] ?? stored[record.scope]?.values.first?.vector.count ?? record.vector.count
                guard record.vector.count == expected else {
                    throw MemoryError(.dimensionMismatch, "the scope \(record.scope) holds vectors of \(expected) dimensions, not \(record.vector.count)")
                }
                dimensions[record.scope] = expected
            }
            for record in checked { stored[record.scope, default: [:]][record.id] = record }
        }
    }

    public func delete(ids: [String], in scope: MemoryScope) async throws -> Int {
        let scope = try scope.validated()
        return records.withLock { stored in
            ids.reduce(0) { count, id in count + (stored[scope]?.removeValue(forKey: id) == nil ? 0 : 1) }
        }
    }

    public func search(_ query: [Float], k: Int, in scope: MemoryScope, filter: [String: String]) async throws -> [MemoryMatch] {
        let query = try Self.validatedQuery(query, k: k)
        let scope = try scope.validated()
        return try records.withLock { stored in
            var top = TopMatches(k: k)
            for record in (stored[scope] ?? [:]).values where filter.allSatisfy({ record.metadata[$0.key] == $0.value }) {
                guard record.vector.count == query.count else {
                    throw MemoryError(.dimensionMismatch, "the scope \(scope) holds vectors of \(record.vector.count) dimensions; the query has \(query.count)")
                }
                let score = record.vector.withUnsafeBufferPointer { vector in query.withUnsafeBufferPointer { VectorMath.dot(vector, $0) } }
                top.insert(MemoryMatch(id: record.id, text: record.text, metadata: record.metadata, score: score, createdAt: record.createdAt))
            }
            return top.matches
        }
    }

    public func count(in scope: MemoryScope) async throws -> Int {
        let scope = try scope.validated()
        return records.withLock { $0[scope]?.count ?? 0 }
    }
}
