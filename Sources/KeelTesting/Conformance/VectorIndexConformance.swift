import Foundation
import KeelCore
import KeelRuntime

/// The checks every ``KeelRuntime/VectorIndex`` must pass — exact ranking by cosine, replacement,
/// deletion, metadata filters, bounded input, and isolation: a generated mix of operations for
/// several tenants, users and agents, after which no search or count ever shows another scope's
/// data. Run each against a fresh index:
///
/// ```swift
/// @Test(arguments: VectorIndexConformance.checks)
/// func sqliteIndexConforms(_ check: VectorIndexConformance.Check) async throws {
///     try await check.run(try SQLiteRunStore(path: path))
/// }
/// ```
public enum VectorIndexConformance {
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any VectorIndex) async throws -> Void
        public var description: String { name }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw RunStoreConformance.Failure(description: message()) }
    }

    static func refused(_ code: MemoryError.Code, _ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return false
        } catch let error as MemoryError {
            return error.code == code
        }
    }

    static let scope = MemoryScope(tenant: "acme", user: "ann", agent: "helper")

    public static let checks: [Check] = [
        Check(name: "search ranks by cosine, best first, ties by id, with texts and metadata") { index in
            try await index.add([
                MemoryRecord(id: "east", scope: scope, text: "east", metadata: ["side": "e"], vector: [1, 0, 0]),
                MemoryRecord(id: "north-east", scope: scope, text: "north-east", vector: [1, 1, 0]),
                MemoryRecord(id: "north", scope: scope, text: "north", vector: [0, 2, 0]),
                MemoryRecord(id: "up", scope: scope, text: "up", vector: [0, 0, 5]),
                MemoryRecord(id: "also-east", scope: scope, text: "also east", vector: [3, 0, 0]),
            ])
            let matches = try await index.search([2, 0.1, 0], k: 3, in: scope)
            try expect(matches.map(\.id) == ["also-east", "east", "north-east"], "ranked by cosine, ties by id: got \(matches.map(\.id))")
            try expect(abs(matches[0].score - 0.99875) < 1e-4, "the score is the cosine, got \(matches[0].score)")
            try expect(matches[1].text == "east" && matches[1].metadata == ["side": "e"], "a match carries its text and metadata")
            try expect(try await index.search([0, 0, 1], k: 10, in: scope).count == 5, "k larger than the scope returns all of it")
            try expect(try await index.count(in: scope) == 5, "count")
        },
        Check(name: "a record added again replaces the first; delete removes and counts") { index in
            try await index.add([MemoryRecord(id: "a", scope: scope, text: "old", vector: [1, 0]), MemoryRecord(id: "b", scope: scope, text: "b", vector: [0, 1])])
            try await index.add([MemoryRecord(id: "a", scope: scope, text: "new", vector: [0, 1])])
            try expect(try await index.count(in: scope) == 2, "replacing keeps one record per id")
            let top = try await index.search([0, 1], k: 2, in: scope)
            try expect(top.map(\.text).sorted() == ["b", "new"], "the replacement is searched, got \(top.map(\.text))")
            try expect(try await index.delete(ids: ["a", "missing"], in: scope) == 1, "delete counts what it removed")
            try expect(try await index.search([1, 0], k: 5, in: scope).map(\.id) == ["b"], "a deleted record is gone")
        },
        Check(name: "a metadata filter keeps the records that hold every entry") { index in
            try await index.add([
                MemoryRecord(id: "1", scope: scope, text: "1", metadata: ["source": "handbook", "lang": "en"], vector: [1, 0]),
                MemoryRecord(id: "2", scope: scope, text: "2", metadata: ["source": "handbook", "lang": "fr"], vector: [1, 0.1]),
                MemoryRecord(id: "3", scope: scope, text: "3", metadata: ["source": "chat", "lang": "en"], vector: [1, 0.2]),
                MemoryRecord(id: "4", scope: scope, text: "4", metadata: ["odd \"key\"": "x"], vector: [1, 0.3]),
            ])
            let handbook = try await index.search([1, 0], k: 5, in: scope, filter: ["source": "handbook"])
            try expect(handbook.map(\.id) == ["1", "2"], "filter by one entry, got \(handbook.map(\.id))")
            try expect(try await index.search([1, 0], k: 5, in: scope, filter: ["source": "handbook", "lang": "fr"]).map(\.id) == ["2"], "every entry must match")
            try expect(try await index.search([1, 0], k: 5, in: scope, filter: ["odd \"key\"": "x"]).map(\.id) == ["4"], "any key can be filtered on")
            try expect(try await index.search([1, 0], k: 5, in: scope, filter: ["source": "web"]).isEmpty, "no match is an empty result")
        },
        Check(name: "bad input is refused with a clear error and changes nothing") { index in
            try await index.add([MemoryRecord(id: "a", scope: scope, text: "a", vector: [1, 0, 0])])
            try expect(try await refused(.dimensionMismatch) { try await index.add([MemoryRecord(id: "b", scope: scope, text: "b", vector: [1, 0])]) }, "other dimensions in one scope")
            try expect(try await refused(.dimensionMismatch) { _ = try await index.search([1, 0], k: 1, in: scope) }, "a query of other dimensions")
            try expect(try await refused(.invalidRecord) { try await index.add([MemoryRecord(id: "c", scope: scope, text: "c", vector: [.nan, 0, 0])]) }, "a NaN")
            try expect(try await refused(.invalidRecord) { try await index.add([MemoryRecord(id: "c", scope: scope, text: "c", vector: [0, 0, 0])]) }, "a zero vector")
            try expect(try await refused(.invalidRecord) { try await index.add([MemoryRecord(id: "", scope: scope, text: "c", vector: [1, 0, 0])]) }, "an empty id")
            try expect(try await refused(.invalidScope) { try await index.add([MemoryRecord(scope: MemoryScope(tenant: ""), text: "c", vector: [1])]) }, "no tenant")
            try expect(try await refused(.invalidQuery) { _ = try await index.search([1, 0, 0], k: 0, in: scope) }, "k of 0")
            try expect(try await refused(.invalidQuery) { _ = try await index.search([1, 0, 0], k: 1_001, in: scope) }, "k over 1,000")
            // A batch with one bad record adds none of it.
            try expect(try await refused(.invalidRecord) {
                try await index.add([MemoryRecord(id: "d", scope: scope, text: "d", vector: [0, 1, 0]), MemoryRecord(id: "e", scope: scope, text: "e", vector: [.infinity, 0, 0])])
            }, "a batch with an infinity")
            try expect(try await index.count(in: scope) == 1, "nothing of a refused batch was added")
        },
        Check(name: "isolation: generated operations over many scopes never show another scope's data") { index in
            try await isolation(index, seed: 0x5eed, operations: 400)
        },
    ]

    /// Applies `operations` random adds, deletes and searches over 3 tenants × 3 users (or none) ×
    /// 2 agents (or none), checking each search and count against a model kept here.
    public static func isolation(_ index: any VectorIndex, seed: UInt64, operations: Int) async throws {
        var random = SeededRandomGenerator(seed: seed)
        let scopes = ["acme", "globex", "initech"].flatMap { tenant in
            [nil, "ann", "bob"].flatMap { user in [nil, "helper", "coach"].map { MemoryScope(tenant: tenant, user: user, agent: $0) } }
        }
        var model: [MemoryScope: [String: MemoryRecord]] = [:]
        func vector() -> [Float] { (0..<16).map { _ in Float(Int(random.next() % 2_001) - 1_000) / 1_000 + 0.0001 } }
        for step in 0..<operations {
            let scope = scopes[Int(random.next() % UInt64(scopes.count))]
            switch random.next() % 10 {
            case 0..<5:
                // The same ids recur across scopes, so that a leak would show as a wrong text.
                let records = (0..<Int(1 + random.next() % 3)).map { _ in
                    let id = "m\(random.next() % 12)"
                    return MemoryRecord(id: id, scope: scope, text: "\(scope) \(id) #\(step)", metadata: ["scope": scope.description], vector: vector())
                }
                try await index.add(records)
                for record in records { model[scope, default: [:]][record.id] = try record.validated() }
            case 5..<7:
                let ids = (0..<2).map { _ in "m\(random.next() % 12)" }
                let expected = Set(ids).count { model[scope]?[$0] != nil }
                let deleted = try await index.delete(ids: ids, in: scope)
                try expect(deleted == expected, "step \(step): deleted \(deleted) in \(scope), expected \(expected)")
                for id in ids { model[scope]?.removeValue(forKey: id) }
            default:
                let query = try VectorMath.normalized(vector())
                let k = Int(1 + random.next() % 6)
                let matches = try await index.search(query, k: k, in: scope)
                var reference = TopMatches(k: k)
                for record in (model[scope] ?? [:]).values {
                    let score = record.vector.withUnsafeBufferPointer { vector in query.withUnsafeBufferPointer { VectorMath.dot(vector, $0) } }
                    reference.insert(MemoryMatch(id: record.id, text: record.text, metadata: record.metadata, score: score, createdAt: record.createdAt))
                }
                try expect(
                    matches.map(\.text) == reference.matches.map(\.text),
                    "step \(step): search in \(scope) returned \(matches.map(\.text)), expected \(reference.matches.map(\.text))")
                try expect(matches.allSatisfy { $0.metadata["scope"] == scope.description }, "step \(step): a match from another scope")
            }
            if step % 50 == 49 {
                for scope in scopes {
                    let count = try await index.count(in: scope)
                    try expect(count == (model[scope]?.count ?? 0), "step \(step): \(scope) counts \(count), expected \(model[scope]?.count ?? 0)")
                }
            }
        }
    }
}
