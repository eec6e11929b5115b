import Foundation
import KeelCore
import Synchronization

/// A durable multi-turn conversation: its id, whose it is, the turns kept and a running summary of
/// the turns folded away.
public struct Session: Sendable, Hashable, Codable {
    public var id: String
    public var scope: MemoryScope
    /// The conversation kept, oldest first: user, assistant and tool messages (no system messages).
    public var messages: [Message]
    /// What the turns folded out of ``messages`` said, written by the summarising model.
    public var summary: String?
    /// One more each time a run saves the session.
    public var version: Int
    /// The run that holds the session (is adding a turn), if any.
    public var heldBy: String?
    /// The run that saved the current version.
    public var savedBy: String?
    public var updatedAt: Date

    public init(
        id: String, scope: MemoryScope, messages: [Message] = [], summary: String? = nil, version: Int = 0, heldBy: String? = nil, savedBy: String? = nil,
        updatedAt: Date = Date()
    ) {
        self.id = id
        self.scope = scope
        self.messages = messages
        self.summary = summary
        self.version = version
        self.heldBy = heldBy
        self.savedBy = savedBy
        self.updatedAt = updatedAt
    }

    /// Throws ``MemoryError`` for an empty id or one longer than 200 characters.
    public static func validate(id: String) throws(MemoryError) {
        guard !id.isEmpty, id.count <= 200 else { throw MemoryError(.invalidRecord, "a session's id must have 1 to 200 characters") }
    }
}

/// Where sessions are kept. A run **claims** a session before it adds a turn and **saves** it
/// after, which releases it: two runs on one session at once are refused, never interleaved.
public protocol SessionStore: Sendable {
    /// The session, if it exists.
    func session(_ id: String, in scope: MemoryScope) async throws -> Session?
    /// Holds the session (created empty if new) for `runID` and returns it. A session held by
    /// another run is refused with ``MemoryError/Code/sessionBusy``; one held by `runID` already is
    /// returned as it is.
    func claimSession(_ id: String, in scope: MemoryScope, by runID: String) async throws -> Session
    /// Replaces the held session's messages and summary, one version on, and releases it. Saving
    /// again what `runID` already saved returns the saved version (a run resumed after a crash).
    func saveSession(_ id: String, in scope: MemoryScope, messages: [Message], summary: String?, by runID: String) async throws -> Int
    /// Releases a session whatever holds it (for a run that will never finish); `false` if it was free.
    func releaseSession(_ id: String, in scope: MemoryScope) async throws -> Bool
    /// The sessions of `scope`, newest first.
    func sessions(in scope: MemoryScope) async throws -> [Session]
    /// Deletes a session; `false` if there was none.
    func deleteSession(_ id: String, in scope: MemoryScope) async throws -> Bool
}

/// The rules every session store applies, in one place.
public enum SessionRules {
    /// `session` claimed by `runID`, or the refusal.
    public static func claim(_ session: Session, by runID: String) throws(MemoryError) -> Session {
        if let holder = session.heldBy, holder != runID {
            throw MemoryError(.sessionBusy, "the session \(session.id) is in use by run \(holder); try again when it has answered")
        }
        var claimed = session
        claimed.heldBy = runID
        return claimed
    }

    /// `session` saved by `runID`: the new state, or `nil` when `runID` already saved it.
    public static func save(_ session: Session, messages: [Message], summary: String?, by runID: String, at date: Date) throws(MemoryError) -> Session? {
        if session.heldBy == nil, session.savedBy == runID { return nil }
        guard session.heldBy == runID else {
            throw MemoryError(.sessionBusy, "the session \(session.id) is not held by run \(runID)\(session.heldBy.map { " but by \($0)" } ?? "")")
        }
        var saved = session
        saved.messages = messages
        saved.summary = summary
        saved.version += 1
        saved.heldBy = nil
        saved.savedBy = runID
        saved.updatedAt = date
        return saved
    }
}

/// A ``SessionStore`` in this process's memory.
public final class InMemorySessionStore: SessionStore {
    private let sessions = Mutex<[MemoryScope: [String: Session]]>([:])

    public init() {}

    public func session(_ id: String, in scope: MemoryScope) async throws -> Session? {
        let scope = try scope.validated()
        return sessions.withLock { $0[scope]?[id] }
    }

    public func claimSession(_ id: String, in scope: MemoryScope, by runID: String) async throws -> Session {
        try Session.validate(id: id)
        let scope = try scope.validated()
        return try sessions.withLock { sessions in
            let claimed = try SessionRules.claim(sessions[scope]?[id] ?? Session(id: id, scope: scope), by: runID)
            sessions[scope, default: [:]][id] = claimed
            return claimed
        }
    }

    public func saveSession(_ id: String, in scope: MemoryScope, messages: [Message], summary: String?, by runID: String) async throws -> Int {
        let scope = try scope.validated()
        return try sessions.withLock { sessions in
            guard let current = sessions[scope]?[id] else { throw MemoryError(.sessionBusy, "the session \(id) does not exist") }
            guard let saved = try SessionRules.save(current, messages: messages, summary: summary, by: runID, at: Date()) else { return current.version }
            sessions[scope, default: [:]][id] = saved
            return saved.version
        }
    }

    public func releaseSession(_ id: String, in scope: MemoryScope) async throws -> Bool {
        let scope = try scope.validated()
        return sessions.withLock { sessions in
            guard sessions[scope]?[id]?.heldBy != nil else { return false }
            sessions[scope]?[id]?.heldBy = nil
            return true
        }
    }

    public func sessions(in scope: MemoryScope) async throws -> [Session] {
        let scope = try scope.validated()
        return sessions.withLock { ($0[scope] ?? [:]).values.sorted { ($0.updatedAt, $0.id) > ($1.updatedAt, $1.id) } }
    }

    public func deleteSession(_ id: String, in scope: MemoryScope) async throws -> Bool {
        let scope = try scope.validated()
        return sessions.withLock { $0[scope]?.removeValue(forKey: id) != nil }
    }
}

/// The part of a conversation that fits a budget of tokens: the newest whole turns (a turn is a
/// user message and what follows it up to the next, so a tool call is never parted from its
/// result), counted with a real tokenizer.
public struct ConversationWindow: Sendable {
    /// The most tokens the kept turns may hold.
    public var maxTokens: Int
    public var counter: TokenCounter

    public init(maxTokens: Int, counter: TokenCounter) {
        self.maxTokens = max(1, maxTokens)
        self.counter = counter
    }

    /// The tokens of one message as the window counts them (its text, its tool calls' names and
    /// arguments, and a few for its framing).
    public func tokens(of message: Message) -> Int {
        var count = 4 + counter.count(message.text ?? "")
        if case .assistant(let reply) = message {
            for call in reply.toolCalls { count += counter.count(call.name) + counter.count(call.arguments) }
        }
        return count
    }

    /// `messages` parted into the older turns that do not fit and the newest that do. The newest
    /// turn is always kept, even over the budget (it cannot be cut).
    public func split(_ messages: [Message]) -> (older: [Message], kept: [Message]) {
        var starts = messages.indices.filter { if case .user = messages[$0] { true } else { false } }
        if starts.first != 0 { starts.insert(0, at: 0) }
        var used = 0
        var cut = messages.endIndex
        for start in starts.reversed() {
            let turn = messages[start..<cut].reduce(0) { $0 + tokens(of: $1) }
            if used + turn > maxTokens, cut != messages.endIndex { break }
            used += turn
            cut = start
        }
        return (Array(messages[..<cut]), Array(messages[cut...]))
    }
}
