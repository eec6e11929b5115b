import Foundation
import KeelApp
import KeelRuntime
import Testing

@Suite(.timeLimit(.minutes(2)))
struct RetrievalEvaluationTests {
    static let dataset = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Datasets/retrieval.json").path

    @Test func theLabelledSetHoldsTwoHundredPassagesAndFiftyQueriesThatPointIntoIt() throws {
        let set = try RetrievalEvaluation.load(path: Self.dataset)
        #expect(set.passages.count == 200)
        #expect(Set(set.passages.map(\.id)).count == 200)
        #expect(set.queries.count == 50)
        let ids = Set(set.passages.map(\.id))
        #expect(set.queries.allSatisfy { !$0.relevant.isEmpty && $0.relevant.allSatisfy(ids.contains) })
    }

    /// The offline embedder's recall@5 on the set (recorded in BENCHMARKS.md): a regression of the
    /// embedder or of exact search shows here.
    @Test func theOfflineEmbeddersRecallAtFive() async throws {
        let result = try await RetrievalEvaluation.load(path: Self.dataset).run(embedder: HashingEmbedder(), k: 5)
        print("recall@5 of the hashing embedder: \(result.recall) (missed: \(result.misses.joined(separator: ", ")))")
        #expect(result.recall >= 0.8, "recall@5 \(result.recall); missed \(result.misses)")
    }
}
