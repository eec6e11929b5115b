import Foundation
import KeelCore
import KeelRuntime

/// How well an embedder finds the right passage: a labelled set of passages and queries, indexed
/// and searched exactly, scored as recall@k (the share of queries whose relevant passage is among
/// the top k).
///
/// `Datasets/retrieval.json` holds Keel's set: 200 passages on 50 topics and 50 queries.
public struct RetrievalEvaluation: Sendable {
    public struct Passage: Codable, Sendable, Hashable {
        public var id: String
        public var text: String
    }

    public struct Query: Codable, Sendable, Hashable {
        public var id: String
        public var text: String
        public var relevant: [String]
    }

    public var passages: [Passage]
    public var queries: [Query]

    /// Reads a set in the format of `Datasets/retrieval.json` (at most 10 MB).
    public static func load(path: String) throws -> RetrievalEvaluation {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count <= 10_000_000 else { throw InputError("\(path) is larger than 10 MB") }
        let json = try JSONValue(parsing: String(decoding: data, as: UTF8.self))
        let passages = try (json["passages"] ?? .array([])).decode(as: [Passage].self)
        let queries = try (json["queries"] ?? .array([])).decode(as: [Query].self)
        guard !passages.isEmpty, !queries.isEmpty else { throw InputError("\(path) holds no passages or no queries") }
        return RetrievalEvaluation(passages: passages, queries: queries)
    }

    public init(passages: [Passage], queries: [Query]) {
        self.passages = passages
        self.queries = queries
    }

    /// The result: recall@k, and the queries that missed.
    public struct Result: Sendable, Hashable {
        public var k: Int
        public var recall: Double
        public var misses: [String]
    }

    /// Embeds every passage (in batches of 64) into `index` under a scope of its own, then each
    /// query, and counts the queries whose relevant passage is in the top `k`.
    public func run(embedder: any EmbeddingModel, index: any VectorIndex = InMemoryVectorIndex(), k: Int = 5) async throws -> Result {
        let scope = MemoryScope(tenant: "retrieval-evaluation", agent: embedder.name)
        for start in stride(from: 0, to: passages.count, by: 64) {
            let batch = Array(passages[start..<min(start + 64, passages.count)])
            let vectors = try await embedder.embed(batch.map(\.text)).vectors
            guard vectors.count == batch.count else { throw InputError("the embedder returned \(vectors.count) vectors for \(batch.count) passages") }
            try await index.add(zip(batch, vectors).map { MemoryRecord(id: $0.id, scope: scope, text: $0.text, vector: $1) })
        }
        var hits = 0
        var misses: [String] = []
        for start in stride(from: 0, to: queries.count, by: 64) {
            let batch = Array(queries[start..<min(start + 64, queries.count)])
            let vectors = try await embedder.embed(batch.map(\.text)).vectors
            for (query, vector) in zip(batch, vectors) {
                let found = Set(try await index.search(vector, k: k, in: scope).map(\.id))
                if query.relevant.contains(where: found.contains) { hits += 1 } else { misses.append(query.id) }
            }
        }
        return Result(k: k, recall: Double(hits) / Double(queries.count), misses: misses)
    }
}
