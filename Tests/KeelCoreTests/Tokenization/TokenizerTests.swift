import Foundation
import KeelTestSupport
import KeelTesting
import Testing

@testable import KeelCore

/// Keel's tokenizer against tokens written by OpenAI's `tiktoken` (Scripts/tokenizer-fixtures.py).
@Suite(.timeLimit(.minutes(5)), .heavy) struct TokenizerTests {
    struct Sample: Decodable, Sendable {
        var text: String
        var tokens: [Int]
    }

    static func samples(_ encoding: String) -> [Sample] {
        guard let url = Bundle.module.url(forResource: encoding, withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url), let samples = try? JSONDecoder().decode([Sample].self, from: data)
        else { return [] }
        return samples
    }

    static let samples = samples("cl100k_base")

    @Test(arguments: ["cl100k_base", "o200k_base"]) func theFixtureIsThere(encoding: String) {
        #expect(Self.samples(encoding).count > 300)
    }

    /// cl100k_base against tiktoken; o200k_base against the bpe-openai package (whose vocabulary
    /// file is tiktoken's, by its SHA-256).
    @Test(arguments: ["cl100k_base", "o200k_base"]) func tokensEqualTheReferenceOnAVariedCorpus(encoding: String) throws {
        let tokenizer = encoding == "o200k_base" ? try BPETokenizer.o200kBase() : try BPETokenizer.cl100kBase()
        #expect(tokenizer.name == encoding)
        var mismatches: [String] = []
        for sample in Self.samples(encoding) {
            let tokens = tokenizer.encode(sample.text)
            if tokens != sample.tokens { mismatches.append("\(sample.text.debugDescription): \(tokens) ≠ \(sample.tokens)") }
            #expect(tokenizer.count(sample.text) == sample.tokens.count)
            #expect(tokenizer.decode(sample.tokens) == sample.text)
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test func eachModelCountsWithItsEncoding() throws {
        #expect(BPETokenizer.encodingName(forModel: "openai:gpt-4o-mini") == "o200k_base")
        #expect(BPETokenizer.encodingName(forModel: "gpt-5") == "o200k_base")
        #expect(BPETokenizer.encodingName(forModel: "o3-mini") == "o200k_base")
        #expect(BPETokenizer.encodingName(forModel: "gpt-4-turbo") == "cl100k_base")
        #expect(BPETokenizer.encodingName(forModel: "gpt-3.5-turbo") == "cl100k_base")
        #expect(BPETokenizer.encodingName(forModel: "anthropic:claude-sonnet-4") == nil)
        #expect(try BPETokenizer.forModel("gpt-4.1").name == "o200k_base")
        #expect(try BPETokenizer.forModel("llama-3").name == "cl100k_base")
        // Claude's tokenizer is not public: cl100k_base plus the documented margin.
        let text = "Section 83 of 161 failed on a malformed JSON response."
        let claude = try TokenEstimate.counter(forModel: "anthropic:claude-haiku-4-5")
        let cl100k = try BPETokenizer.cl100kBase().count(text)
        #expect(claude.count(text) == Int((Double(cl100k) * TokenEstimate.claudeMargin).rounded(.up)))
        #expect(try TokenEstimate.counter(forModel: "openai:gpt-4o").name == "o200k_base")
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

    /// The heap merge that long pieces take gives the same parts as the simple merge, on pieces
    /// of every length and kind (letters, digits, mixed bytes of several scripts).
    @Test(arguments: [65, 100, 257, 1_000, 4_096])
    func longPiecesMergeAsShortOnesDo(length: Int) throws {
        let tokenizer = try BPETokenizer.cl100kBase()
        var generator = SeededGenerator(seed: UInt64(length))
        let alphabets: [[UInt8]] = [Array("abcdefghijklmnopqrstuvwxyz".utf8), Array("etaoinshrdlu".utf8), Array("ünïcødé漢字🧪".utf8), Array(0...255)]
        for alphabet in alphabets {
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            bytes.withUnsafeBufferPointer { piece in
                #expect(tokenizer.bytePairMergeLong(piece) == tokenizer.bytePairMergeShort(piece))
            }
        }
    }

    /// A megabyte of letters is one pre-token: ICU's matcher gives up on it (it used to count as
    /// no tokens at all), and the simple merge would take 10¹² steps. It is counted, in a time the
    /// suite's time limit bounds.
    @Test func aMegabyteWithoutSpacesIsCounted() throws {
        let tokenizer = try BPETokenizer.cl100kBase()
        let count = tokenizer.count(String(repeating: "abcdefghij", count: 100_000))
        #expect(count > 10_000 && count < 1_000_000, "\(count) tokens")
    }
}

/// A small deterministic generator (SplitMix64) for generated inputs.
struct SeededGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
