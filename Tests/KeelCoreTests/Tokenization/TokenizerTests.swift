import Foundation
import KeelCore
import Testing

/// Keel's tokenizer against tokens written by OpenAI's `tiktoken` (Scripts/tokenizer-fixtures.py).
@Suite(.timeLimit(.minutes(5))) struct TokenizerTests {
    struct Sample: Decodable, Sendable {
        var text: String
        var tokens: [Int]
    }

    static let samples: [Sample] = {
        guard let url = Bundle.module.url(forResource: "cl100k_base", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url), let samples = try? JSONDecoder().decode([Sample].self, from: data)
        else { return [] }
        return samples
    }()

    @Test func theFixtureIsThere() {
        #expect(Self.samples.count > 300)
    }

    @Test func tokensEqualTiktokensOnAVariedCorpus() throws {
        let tokenizer = try BPETokenizer.cl100kBase()
        var mismatches: [String] = []
        for sample in Self.samples {
            let tokens = tokenizer.encode(sample.text)
            if tokens != sample.tokens { mismatches.append("\(sample.text.debugDescription): \(tokens) ≠ \(sample.tokens)") }
            #expect(tokenizer.count(sample.text) == sample.tokens.count)
            #expect(tokenizer.decode(sample.tokens) == sample.text)
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test func suffixKeepsTheLastTokens() throws {
        let tokenizer = try BPETokenizer.cl100kBase()
        let text = (1...200).map { "Sentence number \($0) of the report." }.joined(separator: " ")
        let tail = tokenizer.suffix(text, maxTokens: 50)
        #expect(text.hasSuffix(tail))
        #expect(tokenizer.count(tail) <= 50)
        #expect(tokenizer.count(tail) >= 48)
        #expect(tokenizer.suffix("short", maxTokens: 50) == "short")
    }

    @Test func aBrokenVocabularyIsAClearError() {
        #expect(throws: BPETokenizer.LoadError.self) {
            try BPETokenizer(name: "broken", vocabulary: Data("IQ== 0\nnot-a-line\n".utf8), pattern: ".")
        }
    }
}
