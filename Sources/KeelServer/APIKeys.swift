import Crypto
import Foundation
import KeelRuntime

/// Making and checking API keys. A key is `keel_` followed by its id's 12 hex digits, `_`, and 64
/// hex digits of secret (256 random bits); the store keeps its SHA-256 only, so the key is shown
/// once, when it is made.
public enum APIKeys {
    /// The SHA-256 of `key`, in lowercase hex: what the store keeps and looks keys up by.
    public static func hash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Makes a key of `tenant` named `name`, stores it, and returns its record and the key text —
    /// the only time the text exists.
    ///
    /// Throws ``APIError`` for a tenant or name that is empty, longer than 128 characters or holds
    /// control characters, and the store's conflict for a name the tenant already uses.
    public static func create(in store: any APIKeyStore, tenant: String, name: String, role: APIKeyRole) async throws -> (record: APIKeyRecord, key: String) {
        for (field, value) in [("tenant", tenant), ("name", name)] {
            guard !value.isEmpty, value.count <= 128, !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
                throw APIError(.badRequest, "invalid_\(field)", "a key's \(field) must be 1 to 128 characters without control characters")
            }
        }
        let id = KeelServer.randomHex(bytes: 6)
        let key = "keel_\(id)_\(KeelServer.randomHex(bytes: 32))"
        let record = APIKeyRecord(id: "key_\(id)", name: name, tenant: tenant, role: role, hash: hash(key))
        try await store.createKey(record)
        return (record, key)
    }
}
