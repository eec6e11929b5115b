import KeelCore

/// An offline, deterministic embedder for demos and tests: words and word pairs hashed into a
/// fixed number of dimensions (signed feature hashing), weighted by how rare a word tends to be,
/// at unit length. Texts that share words land close together; it knows no synonyms.
///
/// The same text gives the same vector in every process and on every machine.
public struct HashingEmbedder: EmbeddingModel {
    public let provider = "keel"
    public let name: String
    public let dimensions: Int

    public init(dimensions: Int = 384) {
        self.dimensions = max(8, min(dimensions, MemoryRecord.maximumDimensions))
        name = "hashing-\(self.dimensions)"
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        Embeddings(vectors: inputs.map(vector), usage: Usage(inputTokens: inputs.reduce(0) { $0 + Self.words(in: $1).count }, outputTokens: 0))
    }

    /// The vector of one text (all zeros but one dimension for a text with no words).
    public func vector(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        let words = Self.words(in: text).filter { !Self.stopWords.contains($0) }.map(Self.stem)
        func add(_ feature: String, weight: Float) {
            let hash = FNV1a.hash(feature)
            let index = Int(hash % UInt64(dimensions))
            vector[index] += (hash >> 63) == 0 ? weight : -weight
        }
        for word in words { add(word, weight: 1 + Float(min(word.count, 12)) / 6) }
        for (first, second) in zip(words, words.dropFirst()) { add(first + " " + second, weight: 0.5) }
        if words.isEmpty { vector[0] = 1 }
        let length = vector.withUnsafeBufferPointer { VectorMath.dot($0, $0) }.squareRoot()
        return length > 0 ? vector.map { $0 / length } : vector
    }

    /// Lowercased runs of letters and digits.
    static func words(in text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    /// A crude stem: common English endings removed, so that "tides" meets "tide".
    static func stem(_ word: String) -> String {
        for suffix in ["ingly", "ing", "edly", "ies", "ed", "es", "ly", "s"] where word.count > suffix.count + 3 && word.hasSuffix(suffix) {
            return String(word.dropLast(suffix.count)) + (suffix == "ies" ? "y" : "")
        }
        return word
    }

    static let stopWords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "that",
        "the", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why", "will", "with", "does", "do", "did", "can", "about",
    ]
}
