import Foundation
import KeelCore
import KeelRuntime
import Logging
import NIOCore
import PostgresNIO

/// Semantic memory and facts on PostgreSQL, portable to any server: vectors as float32 `bytea`,
/// streamed row by row to this process and compared exactly with SIMD; facts versioned, their
/// expiry on the database's clock.
extension PostgresRunStore: VectorIndex, FactStore {
    // MARK: Vectors

    public func add(_ records: [MemoryRecord]) async throws {
        let checked = try records.map { try $0.validated() }
        guard !checked.isEmpty else { return }
        let logger = self.logger
        try await write { connection in
            var dimensions: [MemoryScope: Int] = [:]
            for record in checked {
                let (tenant, user, agent) = record.scope.columns
                // One writer per scope at a time, so that two batches cannot mix dimensions.
                try await connection.rows("SELECT pg_advisory_xact_lock(hashtextextended(\(Self.lockKey(record.scope, "vectors")), 0))", logger: logger)
                var expected = dimensions[record.scope]
                if expected == nil {
                    let rows = try await connection.rows(
                        """
                        SELECT dimensions FROM keel_memory_vectors WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND id <> \(record.id) LIMIT 1
                        """, logger: logger)
                    expected = try rows.first.map { try Columns($0)("dimensions") as Int }
                }
                let count = expected ?? record.vector.count
                guard record.vector.count == count else {
                    throw MemoryError(.dimensionMismatch, "the scope \(record.scope) holds vectors of \(count) dimensions, not \(record.vector.count)")
                }
                dimensions[record.scope] = count
                let metadata = JSONValue.object(record.metadata.mapValues(JSONValue.string)).serialized()
                let vector = record.vector.withUnsafeBytes { ByteBuffer(bytes: $0) }
                try await connection.rows(
                    """
                    INSERT INTO keel_memory_vectors (tenant, "user", agent, id, text, metadata, dimensions, vector, created_at)
                    VALUES (\(tenant), \(user), \(agent), \(record.id), \(record.text), \(metadata)::jsonb, \(record.vector.count), \(vector),
                        \(record.createdAt.timeIntervalSince1970))
                    ON CONFLICT (tenant, "user", agent, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata,
                        dimensions = excluded.dimensions, vector = excluded.vector, created_at = excluded.created_at
                    """, logger: logger)
            }
        }
    }

    public func delete(ids: [String], in scope: MemoryScope) async throws -> Int {
        let (tenant, user, agent) = try scope.validated().columns
        guard !ids.isEmpty else { return 0 }
        let logger = self.logger
        return try await write { connection in
            try await connection.rows(
                """
                DELETE FROM keel_memory_vectors WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND id = ANY(\(ids)) RETURNING id
                """, logger: logger
            ).count
        }
    }

    public func search(_ query: [Float], k: Int, in scope: MemoryScope, filter: [String: String]) async throws -> [MemoryMatch] {
        let query = try Self.validatedQuery(query, k: k)
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        let containing = JSONValue.object(filter.mapValues(JSONValue.string)).serialized()
        let logger = self.logger
        return try await read { connection in
            var top = TopMatches(k: k)
            let bytes = query.count * MemoryLayout<Float>.stride
            let rows = try await connection.query(
                """
                SELECT id, vector, created_at FROM keel_memory_vectors
                WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND metadata @> \(containing)::jsonb
                """, logger: logger)
            // Streamed: one row at a time, however large the scope.
            for try await (id, vector, created) in rows.decode((String, ByteBuffer, Double).self) {
                guard vector.readableBytes == bytes else {
                    throw MemoryError(.dimensionMismatch, "the scope \(scope) holds vectors of another number of dimensions than the query's \(query.count)")
                }
                let score = vector.withUnsafeReadableBytes { stored in
                    query.withUnsafeBytes { VectorMath.dot(stored.baseAddress, $0.baseAddress, count: query.count) }
                }
                if top.admits(score) {
                    top.insert(MemoryMatch(id: id, text: "", metadata: [:], score: score, createdAt: Date(timeIntervalSince1970: created)))
                }
            }
            var matches = top.matches
            guard !matches.isEmpty else { return matches }
            let details = try await connection.rows(
                """
                SELECT id, text, metadata::text AS metadata FROM keel_memory_vectors
                WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND id = ANY(\(matches.map(\.id)))
                """, logger: logger)
            var byID: [String: (String, [String: String])] = [:]
            for row in details {
                let column = Columns(row)
                let metadata = try JSONValue(parsing: try column("metadata") as String)
                byID[try column("id")] = (try column("text"), (metadata.objectValue ?? [:]).compactMapValues(\.stringValue))
            }
            for index in matches.indices {
                if let (text, metadata) = byID[matches[index].id] {
                    matches[index].text = text
                    matches[index].metadata = metadata
                }
            }
            return matches
        }
    }

    public func count(in scope: MemoryScope) async throws -> Int {
        let (tenant, user, agent) = try scope.validated().columns
        let logger = self.logger
        return try await read { connection in
            let rows = try await connection.rows(
                """
                SELECT COUNT(*)::bigint AS count FROM keel_memory_vectors WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent)
                """, logger: logger)
            return Int(try rows.first.map { try Columns($0)("count") as Int64 } ?? 0)
        }
    }

    // MARK: Facts

    public func setFact(_ key: String, to value: String, in scope: MemoryScope, timeToLive: Duration?) async throws -> Fact {
        try Fact.validate(key: key, value: value, timeToLive: timeToLive)
        guard let fact = try await appendFact(key, value: value, in: try scope.validated(), timeToLive: timeToLive, onlyIfCurrent: false) else {
            throw StoreError(.unavailable, "the fact \(key) was not written")
        }
        return fact
    }

    public func fact(_ key: String, in scope: MemoryScope) async throws -> Fact? {
        let scope = try scope.validated()
        let logger = self.logger
        return try await read { connection in
            let (latest, now) = try await Self.latestFact(key, in: scope, connection, logger: logger)
            return latest.flatMap { $0.isCurrent(at: now) ? $0 : nil }
        }
    }

    public func facts(in scope: MemoryScope, prefix: String) async throws -> [Fact] {
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        let logger = self.logger
        return try await read { connection in
            let rows = try await connection.rows(
                """
                SELECT DISTINCT ON (key) key, version, value, set_at, expires_at, EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now
                FROM keel_memory_facts
                WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND starts_with(key, \(prefix))
                ORDER BY key, version DESC
                """, logger: logger)
            return try rows.compactMap { row in
                let fact = try Self.decodeFact(row, in: scope)
                return fact.isCurrent(at: Date(timeIntervalSince1970: try Columns(row)("now"))) ? fact : nil
            }
        }
    }

    public func history(of key: String, in scope: MemoryScope) async throws -> [Fact] {
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT key, version, value, set_at, expires_at FROM keel_memory_facts
                WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND key = \(key) ORDER BY version
                """, logger: logger
            ).map { try Self.decodeFact($0, in: scope) }
        }
    }

    public func deleteFact(_ key: String, in scope: MemoryScope) async throws -> Bool {
        try await appendFact(key, value: nil, in: try scope.validated(), timeToLive: nil, onlyIfCurrent: true) != nil
    }

    /// Adds the next version of `key` under an advisory lock of the key, at the database's time.
    private func appendFact(_ key: String, value: String?, in scope: MemoryScope, timeToLive: Duration?, onlyIfCurrent: Bool) async throws -> Fact? {
        let logger = self.logger
        return try await write { connection in
            try await connection.rows("SELECT pg_advisory_xact_lock(hashtextextended(\(Self.lockKey(scope, "fact:" + key)), 0))", logger: logger)
            let (latest, now) = try await Self.latestFact(key, in: scope, connection, logger: logger)
            if onlyIfCurrent, latest?.isCurrent(at: now) != true { return nil }
            let fact = Fact(
                scope: scope, key: key, value: value, version: (latest?.version ?? 0) + 1, setAt: now,
                expiresAt: timeToLive.map { now.addingTimeInterval($0.timeInterval) })
            let (tenant, user, agent) = scope.columns
            try await connection.rows(
                """
                INSERT INTO keel_memory_facts (tenant, "user", agent, key, version, value, set_at, expires_at)
                VALUES (\(tenant), \(user), \(agent), \(key), \(fact.version), \(value), \(now.timeIntervalSince1970), \(fact.expiresAt?.timeIntervalSince1970))
                """, logger: logger)
            return fact
        }
    }

    /// The newest version of `key`, and the database's time.
    private static func latestFact(_ key: String, in scope: MemoryScope, _ connection: PostgresConnection, logger: Logger) async throws -> (Fact?, Date) {
        let (tenant, user, agent) = scope.columns
        let rows = try await connection.rows(
            """
            SELECT f.key, f.version, f.value, f.set_at, f.expires_at, EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now
            FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                SELECT key, version, value, set_at, expires_at FROM keel_memory_facts
                WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND key = \(key) ORDER BY version DESC LIMIT 1
            ) AS f ON true
            """, logger: logger)
        guard let row = rows.first else { throw StoreError(.unavailable, "PostgreSQL returned no clock") }
        let now = Date(timeIntervalSince1970: try Columns(row)("now"))
        let version: Int? = try Columns(row)("version")
        return (version == nil ? nil : try decodeFact(row, in: scope), now)
    }

    private static func decodeFact(_ row: PostgresRow, in scope: MemoryScope) throws -> Fact {
        let column = Columns(row)
        let expiresAt: Double? = try column("expires_at")
        return Fact(
            scope: scope, key: try column("key"), value: try column("value"), version: try column("version"),
            setAt: Date(timeIntervalSince1970: try column("set_at")), expiresAt: expiresAt.map(Date.init(timeIntervalSince1970:)))
    }

    /// The text whose hash names the advisory lock of `what` in `scope`.
    private static func lockKey(_ scope: MemoryScope, _ what: String) -> String {
        let (tenant, user, agent) = scope.columns
        return ["keel.memory", tenant, user, agent, what].joined(separator: "\u{1}")
    }
}
