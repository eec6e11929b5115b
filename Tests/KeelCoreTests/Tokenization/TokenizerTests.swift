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
