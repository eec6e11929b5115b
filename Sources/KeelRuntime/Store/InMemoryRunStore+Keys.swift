import Foundation

extension InMemoryRunStore: APIKeyStore {
    public func createKey(_ key: APIKeyRecord) async throws {
        try state.withLock { state in
            let taken = state.keys.values.contains { $0.id == key.id || $0.hash == key.hash || ($0.tenant == key.tenant && $0.name == key.name) }
            guard !taken else {
                throw StoreError(.conflict, "tenant '\(key.tenant)' already has a key named '\(key.name)' (or the key's id is taken); choose another name")
            }
            state.keys[key.id] = key
        }
    }

    public func key(hash: String) async throws -> APIKeyRecord? {
        state.withLock { state in state.keys.values.first { $0.hash == hash } }
    }

    public func keys(tenant: String?) async throws -> [APIKeyRecord] {
        state.withLock { state in
            state.keys.values.filter { tenant == nil || $0.tenant == tenant }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func revokeKey(id: String) async throws -> APIKeyRecord {
        try state.withLock { state in
            guard var key = state.keys[id] else { throw StoreError(.notFound, "no key '\(id)'") }
            if key.revokedAt == nil { key.revokedAt = Date() }
            state.keys[id] = key
            return key
        }
    }
}
