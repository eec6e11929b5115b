import Foundation
import KeelRuntime
import PostgresNIO

extension PostgresRunStore: APIKeyStore {
    public func createKey(_ key: APIKeyRecord) async throws {
        let logger = self.logger
        try await write { connection in
            let inserted = try await connection.rows(
                """
                INSERT INTO keel_api_keys (id, name, tenant, role, hash, created_at, revoked_at)
                VALUES (\(key.id), \(key.name), \(key.tenant), \(key.role.rawValue), \(key.hash), \(key.createdAt.timeIntervalSince1970),
                    \(key.revokedAt?.timeIntervalSince1970))
                ON CONFLICT DO NOTHING RETURNING id
                """, logger: logger)
            guard !inserted.isEmpty else {
                throw StoreError(.conflict, "tenant '\(key.tenant)' already has a key named '\(key.name)' (or the key's id is taken); choose another name")
            }
        }
    }

    public func key(hash: String) async throws -> APIKeyRecord? {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("SELECT * FROM keel_api_keys WHERE hash = \(hash)", logger: logger).first.map(Self.decodeKey)
        }
    }

    public func keys(tenant: String?) async throws -> [APIKeyRecord] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                "SELECT * FROM keel_api_keys WHERE \(tenant)::text IS NULL OR tenant = \(tenant) ORDER BY created_at, id", logger: logger
            ).map(Self.decodeKey)
        }
    }

    public func revokeKey(id: String) async throws -> APIKeyRecord {
        let logger = self.logger
        return try await write { connection in
            try await connection.rows(
                "UPDATE keel_api_keys SET revoked_at = EXTRACT(EPOCH FROM clock_timestamp()) WHERE id = \(id) AND revoked_at IS NULL", logger: logger)
            guard let row = try await connection.rows("SELECT * FROM keel_api_keys WHERE id = \(id)", logger: logger).first else {
                throw StoreError(.notFound, "no key '\(id)'")
            }
            return try Self.decodeKey(row)
        }
    }

    static func decodeKey(_ row: PostgresRow) throws -> APIKeyRecord {
        let columns = Columns(row)
        let roleName: String = try columns("role")
        guard let role = APIKeyRole(rawValue: roleName) else { throw StoreError(.corrupt, "a key has the unknown role '\(roleName)'") }
        return APIKeyRecord(
            id: try columns("id"), name: try columns("name"), tenant: try columns("tenant"), role: role, hash: try columns("hash"),
            createdAt: date(try columns("created_at")) ?? Date(timeIntervalSince1970: 0), revokedAt: date(try columns("revoked_at")))
    }
}
