import Foundation
import GRDB
import KeelCore
import KeelRuntime

/// Facts in the store's file: every version a row, the current one the highest.
extension SQLiteRunStore: FactStore {
    public func setFact(_ key: String, to value: String, in scope: MemoryScope, timeToLive: Duration?) async throws -> Fact {
        try Fact.validate(key: key, value: value, timeToLive: timeToLive)
        return try await append(key, value: value, in: try scope.validated(), timeToLive: timeToLive, onlyIfCurrent: false)
            ?? Fact(scope: scope, key: key, value: value, version: 0, setAt: Date(), expiresAt: nil)
    }

    public func fact(_ key: String, in scope: MemoryScope) async throws -> Fact? {
        let scope = try scope.validated()
        let now = Date()
        return try await read { db in try Self.latest(key, in: scope, db) }.flatMap { $0.isCurrent(at: now) ? $0 : nil }
    }

    public func facts(in scope: MemoryScope, prefix: String) async throws -> [Fact] {
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        let now = Date()
        return try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT key, version, value, set_at, expires_at FROM memory_facts AS f
                    WHERE tenant = ? AND user = ? AND agent = ? AND substr(key, 1, ?) = ?
                      AND version = (SELECT MAX(version) FROM memory_facts WHERE tenant = f.tenant AND user = f.user AND agent = f.agent AND key = f.key)
                    ORDER BY key
                    """,
                arguments: [tenant, user, agent, prefix.count, prefix])
            return try rows.map { try Self.fact($0, in: scope) }
        }.filter { $0.isCurrent(at: now) }
    }

    public func history(of key: String, in scope: MemoryScope) async throws -> [Fact] {
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT key, version, value, set_at, expires_at FROM memory_facts WHERE tenant = ? AND user = ? AND agent = ? AND key = ? ORDER BY version",
                arguments: [tenant, user, agent, key]
            ).map { try Self.fact($0, in: scope) }
        }
    }

    public func deleteFact(_ key: String, in scope: MemoryScope) async throws -> Bool {
        try await append(key, value: nil, in: try scope.validated(), timeToLive: nil, onlyIfCurrent: true) != nil
    }

    /// Adds the next version of `key` in one transaction; with `onlyIfCurrent`, only when the key
    /// has a current value (`nil` otherwise).
    private func append(_ key: String, value: String?, in scope: MemoryScope, timeToLive: Duration?, onlyIfCurrent: Bool) async throws -> Fact? {
        try await write { db in
            let now = Date()
            let latest = try Self.latest(key, in: scope, db)
            if onlyIfCurrent, latest?.isCurrent(at: now) != true { return nil }
            let fact = Fact(
                scope: scope, key: key, value: value, version: (latest?.version ?? 0) + 1, setAt: now,
                expiresAt: timeToLive.map { now.addingTimeInterval($0.timeInterval) })
            let (tenant, user, agent) = scope.columns
            try db.execute(
                sql: "INSERT INTO memory_facts (tenant, user, agent, key, version, value, set_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [tenant, user, agent, key, fact.version, value, now.timeIntervalSince1970, fact.expiresAt?.timeIntervalSince1970])
            return fact
        }
    }

    private static func latest(_ key: String, in scope: MemoryScope, _ db: Database) throws -> Fact? {
        let (tenant, user, agent) = scope.columns
        return try Row.fetchOne(
            db,
            sql: "SELECT key, version, value, set_at, expires_at FROM memory_facts WHERE tenant = ? AND user = ? AND agent = ? AND key = ? ORDER BY version DESC LIMIT 1",
            arguments: [tenant, user, agent, key]
        ).map { try fact($0, in: scope) }
    }

    private static func fact(_ row: Row, in scope: MemoryScope) throws -> Fact {
        let column = Columns(row, in: "memory_facts")
        let expiresAt: Double? = try column("expires_at")
        return Fact(
            scope: scope, key: try column("key"), value: try column("value"), version: try column("version"),
            setAt: Date(timeIntervalSince1970: try column("set_at")), expiresAt: expiresAt.map(Date.init(timeIntervalSince1970:)))
    }
}
