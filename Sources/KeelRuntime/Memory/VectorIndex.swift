import Foundation
import KeelCore

/// Whose memory: a tenant, and optionally a user and an agent within it.
///
/// Scopes never overlap: a read, search or delete in one sees only what was written in exactly
/// that scope — `(acme, ann, nil)` is not a part of `(acme, nil, nil)`, nor of `(acme, ann, helper)`.
public struct MemoryScope: Sendable, Hashable, Codable, CustomStringConvertible {
    public var tenant: String
    public var user: String?
    public var agent: String?

    public init(tenant: String, user: String? = nil, agent: String? = nil) {
        self.tenant = tenant
        self.user = user
        self.agent = agent
    }

    public var description: String { [tenant, user ?? "-", agent ?? "-"].joined(separator: "/") }

    /// The scope's parts as stored: `""` for a part that is not set.
    public var columns: (tenant: String, user: String, agent: String) { (tenant, user ?? "", agent ?? "") }

    /// Throws ``MemoryError`` for an empty tenant or a part longer than 200 characters.
    public func validated() throws(MemoryError) -> MemoryScope {
        guard !tenant.isEmpty else { throw MemoryError(.invalidScope, "a memory scope needs a tenant") }
        for part in [tenant, user ?? "", agent ?? ""] where part.count > 200 {
            throw MemoryError(.invalidScope, "a memory scope's parts may be at most 200 characters")
        }
        return self
    }
}

/// A passage kept in semantic memory: its text, its metadata and its vector.
public struct MemoryRecord: Sendable, Hashable, Codable {
    /// Unique within its scope; adding a record with the id of another replaces it.
    public var id: String
    public var scope: MemoryScope
    public var text: String
    /// Exact-match labels a search can filter on (`source: handbook`).
    public var metadata: [String: String]
    /// The embedding; stored at unit length, so that a dot product is the cosine.
    public var vector: [Float]
    public var createdAt: Date

    public init(id: String = UUID().uuidString, scope: MemoryScope, text: String, metadata: [String: String] = [:], vector: [Float], createdAt: Date = Date()) {
        self.id = id
        self.scope = scope
        self.text = text
        self.metadata = metadata
        self.vector = vector
        self.createdAt = createdAt
    }

    /// The limits a record is held to: what comes from outside is bounded.
    public static let maximumTextLength = 100_000
    public static let maximumDimensions = 8_192
    public static let maximumMetadataEntries = 64

    /// The record checked and its vector normalised. Throws ``MemoryError`` for an empty or
    /// too-long id or text, too much metadata, or a vector that is empty, too long, not finite or
    /// all zeros.
    public func validated() throws(MemoryError) -> MemoryRecord {
        var record = self
        record.scope = try scope.validated()
        guard !id.isEmpty, id.count <= 200 else { throw MemoryError(.invalidRecord, "a memory's id must have 1 to 200 characters") }
        guard text.count <= Self.maximumTextLength else { throw MemoryError(.invalidRecord, "a memory's text may be at most \(Self.maximumTextLength) characters") }
        guard metadata.count <= Self.maximumMetadataEntries, metadata.allSatisfy({ $0.key.count <= 200 && $0.value.count <= 2_000 }) else {
            throw MemoryError(.invalidRecord, "a memory may have at most \(Self.maximumMetadataEntries) metadata entries, each short")
        }
        record.vector = try VectorMath.normalized(vector)
        return record
    }
}

/// A search result: the record (its vector left out) and its cosine similarity to the query.
public struct MemoryMatch: Sendable, Hashable, Codable {
    public var id: String
    public var text: String
    public var metadata: [String: String]
    public var score: Float
    public var createdAt: Date

    public init(id: String, text: String, metadata: [String: String], score: Float, createdAt: Date) {
        self.id = id
        self.text = text
        self.metadata = metadata
        self.score = score
        self.createdAt = createdAt
    }
}

/// Exact nearest-neighbour search over vectors, by cosine similarity, within a scope.
///
/// Implementations: ``InMemoryVectorIndex``; `SQLiteVectorIndex` (KeelSQLite). Each passes
/// `VectorIndexConformance` (KeelTesting), whose isolation check generates operations for several
/// tenants and users and verifies that nothing crosses a scope.
public protocol VectorIndex: Sendable {
    /// Adds records (replacing those with the same id in the same scope). Every vector of a scope
    /// must have the same number of dimensions.
    func add(_ records: [MemoryRecord]) async throws
    /// Deletes the records with these ids in `scope`; returns how many there were.
    func delete(ids: [String], in scope: MemoryScope) async throws -> Int
    /// The `k` records of `scope` most similar to `query` whose metadata holds every entry of
    /// `filter`, best first (ties by id). Exact: every record of the scope is compared.
    func search(_ query: [Float], k: Int, in scope: MemoryScope, filter: [String: String]) async throws -> [MemoryMatch]
    /// How many records `scope` holds.
    func count(in scope: MemoryScope) async throws -> Int
}

/// Why a memory operation was refused.
public struct MemoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case invalidScope = "invalid_scope"
        case invalidRecord = "invalid_record"
        case invalidQuery = "invalid_query"
        case dimensionMismatch = "dimension_mismatch"
        /// The session is held by another run.
        case sessionBusy = "session_busy"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Vector arithmetic for exact search: unit-length normalisation and SIMD dot products.
public enum VectorMath {
    /// `vector` scaled to unit length. Throws ``MemoryError`` for an empty, too long, non-finite or
    /// zero vector.
    public static func normalized(_ vector: [Float]) throws(MemoryError) -> [Float] {
        guard !vector.isEmpty, vector.count <= MemoryRecord.maximumDimensions else {
            throw MemoryError(.invalidRecord, "a vector must have 1 to \(MemoryRecord.maximumDimensions) dimensions, not \(vector.count)")
        }
        guard vector.allSatisfy(\.isFinite) else { throw MemoryError(.invalidRecord, "a vector's values must be finite numbers") }
        let length = vector.withUnsafeBufferPointer { dot($0, $0) }.squareRoot()
        guard length > 0, length.isFinite else { throw MemoryError(.invalidRecord, "a vector must not be all zeros") }
        return vector.map { $0 / length }
    }

    /// The dot product of two vectors of the same length, eight lanes at a time.
    @inlinable
    public static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        dot(UnsafeRawPointer(a.baseAddress), UnsafeRawPointer(b.baseAddress), count: min(a.count, b.count))
    }

    /// The dot product of `count` floats at `a` and at `b` (either may be unaligned: a blob's bytes).
    @inlinable
    public static func dot(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, count: Int) -> Float {
        guard let a, let b, count > 0 else { return 0 }
        var sum = SIMD8<Float>()
        var index = 0
        while index + 8 <= count {
            let offset = index * MemoryLayout<Float>.stride
            sum += a.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * b.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            index += 8
        }
        var total = sum.sum()
        while index < count {
            let offset = index * MemoryLayout<Float>.stride
            total += a.loadUnaligned(fromByteOffset: offset, as: Float.self) * b.loadUnaligned(fromByteOffset: offset, as: Float.self)
            index += 1
        }
        return total
    }
}

/// The best `k` matches seen so far, kept sorted (best first, ties by id).
public struct TopMatches: Sendable {
    public let k: Int
    public private(set) var matches: [MemoryMatch] = []

    public init(k: Int) {
        self.k = k
        matches.reserveCapacity(k + 1)
    }

    /// Whether a match scoring `score` would be kept (so that its record is decoded only then).
    public func admits(_ score: Float) -> Bool {
        matches.count < k || score >= (matches.last?.score ?? -.infinity)
    }

    public mutating func insert(_ match: MemoryMatch) {
        guard admits(match.score) else { return }
        let position = matches.firstIndex { Self.ranks(match, before: $0) } ?? matches.count
        matches.insert(match, at: position)
        if matches.count > k { matches.removeLast() }
    }

    static func ranks(_ a: MemoryMatch, before b: MemoryMatch) -> Bool {
        a.score != b.score ? a.score > b.score : a.id < b.id
    }
}

extension VectorIndex {
    /// ``search(_:k:in:filter:)`` with no filter.
    public func search(_ query: [Float], k: Int, in scope: MemoryScope) async throws -> [MemoryMatch] {
        try await search(query, k: k, in: scope, filter: [:])
    }

    /// The query checked and normalised, and `k` checked (1 to 1,000).
    public static func validatedQuery(_ query: [Float], k: Int) throws(MemoryError) -> [Float] {
        guard (1...1_000).contains(k) else { throw MemoryError(.invalidQuery, "k must be from 1 to 1,000, not \(k)") }
        do {
            return try VectorMath.normalized(query)
        } catch {
            throw MemoryError(.invalidQuery, "the query: \(error.message)")
        }
    }
}
