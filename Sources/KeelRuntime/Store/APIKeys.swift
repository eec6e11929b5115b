import Foundation

/// What an API key may do. Each role may do what the ones before it may.
public enum APIKeyRole: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Reads runs, approvals, dead letters, costs and the audit log.
    case viewer
    /// Also starts, cancels and resumes runs, decides approvals and retries dead letters.
    case `operator`
    /// Also manages keys.
    case admin

    public static func < (lhs: APIKeyRole, rhs: APIKeyRole) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}

/// An API key as the store keeps it: never the key itself, only its SHA-256.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    /// The key's public id (its first characters, safe to show and log).
    public var id: String
    /// A name for people: decisions made with the key are recorded under it.
    public var name: String
    /// The only tenant whose runs the key reaches.
    public var tenant: String
    public var role: APIKeyRole
    /// The SHA-256 of the whole key, in lowercase hex.
    public var hash: String
    public var createdAt: Date
    /// When it was revoked; a revoked key is refused.
    public var revokedAt: Date?

    public init(id: String, name: String, tenant: String, role: APIKeyRole, hash: String, createdAt: Date = Date(), revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.tenant = tenant
        self.role = role
        self.hash = hash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// Where API keys are kept: the run stores (SQLite, PostgreSQL, in memory) are key stores too.
public protocol APIKeyStore: Sendable {
    /// Adds a key. Throws ``StoreError/Code/conflict`` when its id or hash is taken, or its tenant
    /// already has a key of that name.
    func createKey(_ key: APIKeyRecord) async throws

    /// The key whose hash is `hash`, revoked or not.
    func key(hash: String) async throws -> APIKeyRecord?

    /// The keys of one tenant, or of all, oldest first.
    func keys(tenant: String?) async throws -> [APIKeyRecord]

    /// Revokes a key (again: no change) and returns it; ``StoreError/Code/notFound`` when there is none.
    @discardableResult
    func revokeKey(id: String) async throws -> APIKeyRecord
}
