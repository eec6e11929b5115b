import Foundation
import KeelCore
import KeelRuntime
import Logging
import PostgresNIO

/// Sessions on PostgreSQL: each a row holding the session as JSON, changed under a row lock (an
/// advisory lock for one not yet created), so that two workers never claim one session at once.
extension PostgresRunStore: SessionStore {
    public func session(_ id: String, in scope: MemoryScope) async throws -> Session? {
        let scope = try scope.validated()
        let logger = self.logger
        return try await read { connection in try await Self.loadSession(id, in: scope, connection, lock: false, logger: logger) }
    }

    public func claimSession(_ id: String, in scope: MemoryScope, by runID: String) async throws -> Session {
        try Session.validate(id: id)
        let scope = try scope.validated()
        let logger = self.logger
        return try await write { connection in
            let current = try await Self.lockedSession(id, in: scope, connection, logger: logger)
            let claimed = try SessionRules.claim(current ?? Session(id: id, scope: scope), by: runID)
            try await Self.storeSession(claimed, connection, logger: logger)
            return claimed
        }
    }

    public func saveSession(_ id: String, in scope: MemoryScope, messages: [Message], summary: String?, by runID: String) async throws -> Int {
        let scope = try scope.validated()
        let logger = self.logger
        return try await write { connection in
            guard let current = try await Self.lockedSession(id, in: scope, connection, logger: logger) else {
                throw MemoryError(.sessionBusy, "the session \(id) does not exist")
            }
            guard let saved = try SessionRules.save(current, messages: messages, summary: summary, by: runID, at: Date()) else { return current.version }
            try await Self.storeSession(saved, connection, logger: logger)
            return saved.version
        }
    }

    public func releaseSession(_ id: String, in scope: MemoryScope) async throws -> Bool {
        let scope = try scope.validated()
        let logger = self.logger
        return try await write { connection in
            guard var session = try await Self.lockedSession(id, in: scope, connection, logger: logger), session.heldBy != nil else { return false }
            session.heldBy = nil
            try await Self.storeSession(session, connection, logger: logger)
            return true
        }
    }

    public func sessions(in scope: MemoryScope) async throws -> [Session] {
        let scope = try scope.validated()
        let (tenant, user, agent) = scope.columns
        let logger = self.logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT session FROM keel_memory_sessions WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) ORDER BY updated_at DESC, id DESC
                """, logger: logger
            ).map(Self.decodeSession)
        }
    }

    public func deleteSession(_ id: String, in scope: MemoryScope) async throws -> Bool {
        let (tenant, user, agent) = try scope.validated().columns
        let logger = self.logger
        return try await write { connection in
            try await connection.rows(
                """
                DELETE FROM keel_memory_sessions WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND id = \(id) RETURNING id
                """, logger: logger
            ).count > 0
        }
    }

    /// The session, its row locked for the transaction — or, when it does not exist yet, the
    /// advisory lock of its id held, so that two first claims cannot both create it.
    private static func lockedSession(_ id: String, in scope: MemoryScope, _ connection: PostgresConnection, logger: Logger) async throws -> Session? {
        let (tenant, user, agent) = scope.columns
        let key = ["keel.session", tenant, user, agent, id].joined(separator: "\u{1}")
        try await connection.rows("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))", logger: logger)
        return try await loadSession(id, in: scope, connection, lock: true, logger: logger)
    }

    private static func loadSession(_ id: String, in scope: MemoryScope, _ connection: PostgresConnection, lock: Bool, logger: Logger) async throws -> Session? {
        let (tenant, user, agent) = scope.columns
        let rows = try await connection.rows(
            """
            SELECT session FROM keel_memory_sessions WHERE tenant = \(tenant) AND "user" = \(user) AND agent = \(agent) AND id = \(id)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        return try rows.first.map(decodeSession)
    }

    private static func decodeSession(_ row: PostgresRow) throws -> Session {
        let text: String = try Columns(row)("session")
        do {
            return try JSONValue(parsing: text).decode(as: Session.self)
        } catch {
            throw StoreError(.corrupt, "a row of keel_memory_sessions does not hold a session: \(error)")
        }
    }

    private static func storeSession(_ session: Session, _ connection: PostgresConnection, logger: Logger) async throws {
        let (tenant, user, agent) = session.scope.columns
        let json = try JSONValue(encoding: session).serialized()
        try await connection.rows(
            """
            INSERT INTO keel_memory_sessions (tenant, "user", agent, id, session, updated_at)
            VALUES (\(tenant), \(user), \(agent), \(session.id), \(json), \(session.updatedAt.timeIntervalSince1970))
            ON CONFLICT (tenant, "user", agent, id) DO UPDATE SET session = excluded.session, updated_at = excluded.updated_at
            """, logger: logger)
    }
}
