import Foundation
import GRDB
import KeelRuntime

extension SQLiteRunStore: APIKeyStore {
    public func createKey(_ key: APIKeyRecord) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO api_keys (id, name, tenant, role, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [key.id, key.name, key.tenant, key.role.rawValue, key.hash, key.createdAt.timeIntervalSince1970, key.revokedAt?.timeIntervalSince1970])
            guard db.changesCount == 1 else {
                throw StoreError(.conflict, "tenant '\(key.tenant)' already has a key named '\(key.name)' (or the key's id is taken); choose another name")
            }
        }
    }

    public func key(hash: String) async throws -> APIKeyRecord? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE hash = ?", arguments: [hash]).map(Self.decodeKey) }
    }

    public func keys(tenant: String?) async throws -> [APIKeyRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_at, id", arguments: [tenant]).map(Self.decodeKey)
        }
    }

    public func revokeKey(id: String) async throws -> APIKeyRecord {
        try await write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [Date().timeIntervalSince1970, id])
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]) else { throw StoreError(.notFound, "no key '\(id)'") }
            return try Self.decodeKey(row)
        }
    }

    static func decodeKey(_ row: Row) throws -> APIKeyRecord {
        let column = Columns(row, in: "api_keys")
        let roleName: String = try column("role")
        guard let role = APIKeyRole(rawValue: roleName) else { throw StoreError(.corrupt, "a key has the unknown role '\(roleName)'") }
        return try APIKeyRecord(
            id: column("id"), name: column("name"), tenant: column("tenant"), role: role, hash: column("hash"),
            createdAt: date(column("created_at")) ?? Date(timeIntervalSince1970: 0), revokedAt: date(column("revoked_at")))
    }
}
