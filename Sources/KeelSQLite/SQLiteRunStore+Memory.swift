import Foundation
import GRDB
import KeelCore
import KeelRuntime

/// Semantic memory in the store's file: vectors as float32 blobs, searched exactly.
///
/// A search scans the scope's rows through a cursor — one row in memory at a time, its blob read
/// in place — computing each dot product with SIMD and keeping the best `k`; the texts and
/// metadata of those `k` alone are read afterwards.
extension SQLiteRunStore: VectorIndex {
    public func add(_ records: [MemoryRecord]) async throws {
        let checked = try records.map { try $0.validated() }
        guard !checked.isEmpty else { return }
        try await write { db in
            var dimensions: [MemoryScope: Int] = [:]
            for record in checked {
                let (tenant, user, agent) = record.scope.columns
                let expected = try dimensions[record.scope]
                    ?? Int.fetchOne(db, sql: "SELECT dimensions FROM memory_vectors WHERE tenant = ? AND user = ? AND agent = ? AND id <> ? LIMIT 1", arguments: [tenant, user, agent, record.id])
                    ?? record.vector.count
                guard record.vector.count == expected else {
                    throw MemoryError(.dimensionMismatch, "the scope \(record.scope) holds vectors of \(expected) dimensions, not \(record.vector.count)")
                }
                dimensions[record.scope] = expected
                let metadata = JSONValue.object(record.metadata.mapValues(JSONValue.string)).serialized()
                let blob = record.vector.withUnsafeBytes { Data($0) }
                try db.execute(
                    sql: """
                        INSERT INTO memory_vectors (tenant, user, agent, id, text, metadata, dimensions, vector, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (tenant, user, agent, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata,
                            dimensions = excluded.dimensions, vector = excluded.vector, created_at = excluded.created_at
                        """,
                    arguments: [tenant, user, agent, record.id, record.text, metadata, record.vector.count, blob, record.createdAt.timeIntervalSince1970])
            }
        }
    }

    public func delete(ids: [String], in scope: MemoryScope) async throws -> Int {
        let (tenant, user, agent) = try scope.validated().columns
        guard !ids.isEmpty else { return 0 }
        return try await write { db in
            var deleted = 0
            for id in ids {
                try db.execute(sql: "DELETE FROM memory_vectors WHERE tenant = ? AND user = ? AND agent = ? AND id = ?", arguments: [tenant, user, agent, id])
                deleted += db.changesCount
            }
            return deleted
        }
    }

    public func search(_ query: [Float], k: Int, in scope: MemoryScope, filter: [String: String]) async throws -> [MemoryMatch] {
        let query = try Self.validatedQuery(query, k: k)
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        var sql = "SELECT id, vector, created_at FROM memory_vectors WHERE tenant = ? AND user = ? AND agent = ?"
        var arguments: StatementArguments = [tenant, user, agent]
        for (key, value) in filter.sorted(by: { $0.key < $1.key }) {
            // json_each: any key, quotes and all, is compared as it is.
            sql += " AND EXISTS (SELECT 1 FROM json_each(memory_vectors.metadata) WHERE json_each.key = ? AND json_each.value = ?)"
            arguments += [key, value]
        }
        let statement = (sql, arguments)
        return try await read { db in
            let (sql, arguments) = statement
            var top = TopMatches(k: k)
            let bytes = query.count * MemoryLayout<Float>.stride
            try query.withUnsafeBytes { queryBytes in
                let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                while let row = try rows.next() {
                    let score = try row.withUnsafeData(atIndex: 1) { vector -> Float in
                        guard let vector, vector.count == bytes else {
                            throw MemoryError(
                                .dimensionMismatch, "the scope \(scope) holds vectors of another number of dimensions than the query's \(query.count)")
                        }
                        return vector.withUnsafeBytes { VectorMath.dot($0.baseAddress, queryBytes.baseAddress, count: query.count) }
                    }
                    guard top.admits(score) else { continue }
                    let column = Columns(row, in: "memory_vectors")
                    let id: String = try column("id")
                    let created: Double = try column("created_at")
                    top.insert(MemoryMatch(id: id, text: "", metadata: [:], score: score, createdAt: Date(timeIntervalSince1970: created)))
                }
            }
            // The texts and metadata of the best alone.
            var matches = top.matches
            for index in matches.indices {
                let row = try Row.fetchOne(
                    db, sql: "SELECT text, metadata FROM memory_vectors WHERE tenant = ? AND user = ? AND agent = ? AND id = ?",
                    arguments: [tenant, user, agent, matches[index].id])
                guard let row else { continue }
                let column = Columns(row, in: "memory_vectors")
                matches[index].text = try column("text")
                let metadata = try JSONValue(parsing: try column("metadata") as String)
                matches[index].metadata = (metadata.objectValue ?? [:]).compactMapValues(\.stringValue)
            }
            return matches
        }
    }

    public func count(in scope: MemoryScope) async throws -> Int {
        let (tenant, user, agent) = try scope.validated().columns
        return try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_vectors WHERE tenant = ? AND user = ? AND agent = ?", arguments: [tenant, user, agent]) ?? 0
        }
    }
}
