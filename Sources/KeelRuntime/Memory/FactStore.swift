import Foundation
import Synchronization

/// One version of a fact: exact key-value memory, scoped like semantic memory.
public struct Fact: Sendable, Hashable, Codable {
    public var scope: MemoryScope
    public var key: String
    /// The value; `nil` for the version that deleted the fact.
    public var value: String?
    /// 1 for the first value of the key in its scope, one more for each change after.
    public var version: Int
    public var setAt: Date
    /// When this version stops being current; `nil` keeps it until it is changed.
    public var expiresAt: Date?

    public init(scope: MemoryScope, key: String, value: String?, version: Int, setAt: Date, expiresAt: Date?) {
        self.scope = scope
        self.key = key
        self.value = value
        self.version = version
        self.setAt = setAt
        self.expiresAt = expiresAt
    }

    /// Whether this version holds a value at `date`.
    public func isCurrent(at date: Date) -> Bool {
        value != nil && (expiresAt.map { date < $0 } ?? true)
    }

    /// Throws ``MemoryError`` for an empty or long key, a long value or a time to live out of range.
    public static func validate(key: String, value: String?, timeToLive: Duration?) throws(MemoryError) {
        guard !key.isEmpty, key.count <= 200 else { throw MemoryError(.invalidRecord, "a fact's key must have 1 to 200 characters") }
        if let value, value.count > MemoryRecord.maximumTextLength {
            throw MemoryError(.invalidRecord, "a fact's value may be at most \(MemoryRecord.maximumTextLength) characters")
        }
        if let timeToLive, timeToLive <= .zero || timeToLive > .seconds(10 * 365 * 86_400) {
            throw MemoryError(.invalidRecord, "a fact's time to live must be positive and at most ten years")
        }
    }
}

/// Exact facts, versioned: setting a key adds a version and keeps the old ones as its history;
/// deleting adds a version without a value. Scoped like ``VectorIndex``: nothing crosses a scope.
public protocol FactStore: Sendable {
    /// Sets `key` to `value` in `scope`, for `timeToLive` (or until changed); returns the new version.
    func setFact(_ key: String, to value: String, in scope: MemoryScope, timeToLive: Duration?) async throws -> Fact
    /// The current version of `key`, unless it was deleted or has expired.
    func fact(_ key: String, in scope: MemoryScope) async throws -> Fact?
    /// The current facts of `scope` (whose keys start with `prefix`), by key.
    func facts(in scope: MemoryScope, prefix: String) async throws -> [Fact]
    /// Every version of `key`, oldest first (deletions included).
    func history(of key: String, in scope: MemoryScope) async throws -> [Fact]
    /// Deletes `key` (a version without a value); `false` when it had no current value.
    func deleteFact(_ key: String, in scope: MemoryScope) async throws -> Bool
}

/// A ``FactStore`` in this process's memory.
public final class InMemoryFactStore: FactStore {
    private let versions = Mutex<[MemoryScope: [String: [Fact]]]>([:])
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    public func setFact(_ key: String, to value: String, in scope: MemoryScope, timeToLive: Duration?) async throws -> Fact {
        try Fact.validate(key: key, value: value, timeToLive: timeToLive)
        let scope = try scope.validated()
        let date = now()
        return versions.withLock { versions in
            let history = versions[scope]?[key] ?? []
            let fact = Fact(
                scope: scope, key: key, value: value, version: (history.last?.version ?? 0) + 1, setAt: date,
                expiresAt: timeToLive.map { date.addingTimeInterval($0.timeInterval) })
            versions[scope, default: [:]][key, default: []].append(fact)
            return fact
        }
    }

    public func fact(_ key: String, in scope: MemoryScope) async throws -> Fact? {
        let scope = try scope.validated()
        let date = now()
        return versions.withLock { $0[scope]?[key]?.last }.flatMap { $0.isCurrent(at: date) ? $0 : nil }
    }

    public func facts(in scope: MemoryScope, prefix: String) async throws -> [Fact] {
        let scope = try scope.validated()
        let date = now()
        return versions.withLock { versions in
            (versions[scope] ?? [:]).compactMap { key, history in key.hasPrefix(prefix) ? history.last : nil }
        }.filter { $0.isCurrent(at: date) }.sorted { $0.key < $1.key }
    }

    public func history(of key: String, in scope: MemoryScope) async throws -> [Fact] {
        let scope = try scope.validated()
        return versions.withLock { $0[scope]?[key] ?? [] }
    }

    public func deleteFact(_ key: String, in scope: MemoryScope) async throws -> Bool {
        let scope = try scope.validated()
        let date = now()
        return versions.withLock { versions in
            guard let last = versions[scope]?[key]?.last, last.isCurrent(at: date) else { return false }
            versions[scope, default: [:]][key, default: []].append(
                Fact(scope: scope, key: key, value: nil, version: last.version + 1, setAt: date, expiresAt: nil))
            return true
        }
    }
}
