import Foundation
import GRDB
import KeelCore
import KeelRuntime

/// Sessions in the store's file: each a row holding the session as JSON, changed in immediate
/// transactions, so that two processes never claim one session at once.
extension SQLiteRunStore: SessionStore {
    public func session(_ id: String, in scope: MemoryScope) async throws -> Session? {
        let scope = try scope.validated()
        return try await read { db in try Self.loadSession(id, in: scope, db) }
    }

    public func claimSession(_ id: String, in scope: MemoryScope, by runID: String) async throws -> Session {
        try Session.validate(id: id)
        let scope = try scope.validated()
        return try await write { db in
            let claimed = try SessionRules.claim(try Self.loadSession(id, in: scope, db) ?? Session(id: id, scope: scope), by: runID)
            try Self.storeSession(claimed, db)
            return claimed
        }
    }

    public func saveSession(_ id: String, in scope: MemoryScope, messages: [Message], summary: String?, by runID: String) async throws -> Int {
        let scope = try scope.validated()
        return try await write { db in
            guard let current = try Self.loadSession(id, in: scope, db) else { throw MemoryError(.sessionBusy, "the session \(id) does not exist") }
            guard let saved = try SessionRules.save(current, messages: messages, summary: summary, by: runID, at: Date()) else { return current.version }
            try Self.storeSession(saved, db)
            return saved.version
        }
    }

    public func releaseSession(_ id: String, in scope: MemoryScope) async throws -> Bool {
        let scope = try scope.validated()
        return try await write { db in
            guard var session = try Self.loadSession(id, in: scope, db), session.heldBy != nil else { return false }
            session.heldBy = nil
            try Self.storeSession(session, db)
            return true
        }
    }

    public func sessions(in scope: MemoryScope) async throws -> [Session] {
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT session FROM memory_sessions WHERE tenant = ? AND user = ? AND agent = ? ORDER BY updated_at DESC, id DESC",
                arguments: [tenant, user, agent]
            ).map { try Self.decodeSession($0) }
        }
    }

    public func deleteSession(_ id: String, in scope: MemoryScope) async throws -> Bool {
        let (tenant, user, agent) = try scope.validated().columns
        return try await write { db in
            try db.execute(sql: "DELETE FROM memory_sessions WHERE tenant = ? AND user = ? AND agent = ? AND id = ?", arguments: [tenant, user, agent, id])
            return db.changesCount > 0
        }
    }

    private static func loadSession(_ id: String, in scope: MemoryScope, _ db: Database) throws -> Session? {
        let (tenant, user, agent) = scope.columns
        return try Row.fetchOne(db, sql: "SELECT session FROM memory_sessions WHERE tenant = ? AND user = ? AND agent = ? AND id = ?", arguments: [tenant, user, agent, id])
            .map { try decodeSession($0) }
    }

    private static func decodeSession(_ row: Row) throws -> Session {
        let text: String = try Columns(row, in: "memory_sessions")("session")
        do {
            return try JSONValue(parsing: text).decode(as: Session.self)
        } catch {
            throw StoreError(.corrupt, "a row of memory_sessions does not hold a session: \(error)")
        }
    }

    private static func storeSession(_ session: Session, _ db: Database) throws {
        let (tenant, user, agent) = session.scope.columns
        try db.execute(
            sql: """
                INSERT INTO memory_sessions (tenant, user, agent, id, session, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant, user, agent, id) DO UPDATE SET session = excluded.session, updated_at = excluded.updated_at
                """,
            arguments: [tenant, user, agent, session.id, try JSONValue(encoding: session).serialized(), session.updatedAt.timeIntervalSince1970])
    }
}
