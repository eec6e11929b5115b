import Foundation
import Synchronization

/// A byte-pair-encoding tokenizer compatible with OpenAI's `tiktoken`, for counting tokens before a
/// call (budgets) and for cutting context to a token budget (pipelines).
///
/// ``cl100kBase()`` and ``o200kBase()`` load the vocabularies that ship with KeelCore; their token
/// counts equal `tiktoken`'s `encode_ordinary` (special tokens such as `<|endoftext|>` are plain
/// text). ``forModel(_:)`` picks the one a model counts with.
///
/// ```swift
/// let tokenizer = try BPETokenizer.cl100kBase()
/// tokenizer.count("Hello, world!")  // 4
/// ```
public final class BPETokenizer: Sendable {
    /// The encoding's name, such as `cl100k_base`.
    public let name: String
    private let table: TokenTable
    private let pattern: SendableRegex

    /// An error loading a vocabulary.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// A tokenizer from a `.tiktoken` vocabulary (one `base64-token rank` pair a line) and the
    /// pre-tokenization regular expression of its encoding.
    public init(name: String, vocabulary: Data, pattern: String) throws {
        do {
            table = try TokenTable(tiktoken: [UInt8](vocabulary))
        } catch {
            throw LoadError(description: "the \(name) vocabulary: \(error.description)")
        }
        self.name = name
        do {
            self.pattern = SendableRegex(try NSRegularExpression(pattern: pattern))
        } catch {
            throw LoadError(description: "the \(name) pattern does not compile: \(error)")
        }
    }

    /// The `cl100k_base` pre-tokenization pattern, as `tiktoken` 0.14 writes it.
    public static let cl100kPattern =
        #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#

    /// The `o200k_base` pre-tokenization pattern, as `tiktoken` writes it: cased words with
    /// their contractions, numbers of up to three digits, punctuation runs, newlines, spaces.
    public static let o200kPattern = [
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
        #"\p{N}{1,3}"#,
        #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#,
        #"\s*[\r\n]+"#,
        #"\s+(?!\S)"#,
        #"\s+"#,
    ].joined(separator: "|")

    /// The encodings bundled with KeelCore, loaded at most once per process each.
    private static let shared = Mutex<[String: BPETokenizer]>([:])

    /// The `cl100k_base` encoding (GPT-4, GPT-3.5, text-embedding-3), loaded once per process from
    /// the vocabulary bundled with KeelCore.
    public static func cl100kBase() throws -> BPETokenizer {
        try sharedEncoding("cl100k_base", make: makeCl100kBase)
    }

    /// The `o200k_base` encoding (GPT-4o, GPT-4.1, GPT-5 and the o-series), loaded once per
    /// process from the vocabulary bundled with KeelCore.
    public static func o200kBase() throws -> BPETokenizer {
        try sharedEncoding("o200k_base", make: makeO200kBase)
    }

    private static func sharedEncoding(_ name: String, make: () throws -> BPETokenizer) throws -> BPETokenizer {
        try shared.withLock { shared in
            if let tokenizer = shared[name] { return tokenizer }
            let tokenizer = try make()
            shared[name] = tokenizer
            return tokenizer
        }
    }

    /// Loads a new `cl100k_base` tokenizer from the bundled vocabulary; prefer the shared
    /// ``cl100kBase()``.
    ///
    /// - Throws: ``LoadError`` naming the places searched when the vocabulary is not found (a
    ///   `keel` binary copied without its `keel_KeelCore.resources` folder, say).
    public static func makeCl100kBase() throws -> BPETokenizer {
        let url = try bundledFile("cl100k_base.tiktoken", variable: "KEEL_CL100K_VOCABULARY")
        return try BPETokenizer(name: "cl100k_base", vocabulary: try Data(contentsOf: url), pattern: cl100kPattern)
    }

    /// Loads a new `o200k_base` tokenizer from the bundled vocabulary (extracted from the
    /// `bpe-openai` package by `Scripts/o200k-vocabulary.sh`); prefer the shared ``o200kBase()``.
    public static func makeO200kBase() throws -> BPETokenizer {
        let url = try bundledFile("o200k_base.tiktoken", variable: "KEEL_O200K_VOCABULARY")
        return try BPETokenizer(name: "o200k_base", vocabulary: try Data(contentsOf: url), pattern: o200kPattern)
    }

    /// The first of: the file `variable` names, and `name` in KeelCore's resource folder next to
    /// the executable or to any loaded bundle.
    ///
    /// Not `Bundle.module`: SwiftPM's accessor ends the process with `fatalError` when the
    /// resource folder is not where the build left it, and a binary copied into a container is
    /// exactly that case.
    static func bundledFile(_ name: String, variable: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        var candidates: [URL] = []
        if let explicit = environment[variable], !explicit.isEmpty { candidates.append(URL(fileURLWithPath: explicit)) }
        var folders = [Bundle.main.bundleURL, Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()].compactMap { $0 }
        folders += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for folder in folders {
            candidates.append(folder.appendingPathComponent("keel_KeelCore.resources/\(name)"))
            candidates.append(folder.appendingPathComponent("keel_KeelCore.bundle/Contents/Resources/\(name)"))
            candidates.append(folder.appendingPathComponent("keel_KeelCore.bundle/\(name)"))
        }
        if let found = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0.path) }) { return found }
        let searched = Set(candidates.map { $0.deletingLastPathComponent().path }).sorted().joined(separator: ", ")
        throw LoadError(
            description: "the tokenizer vocabulary \(name) was not found (searched \(searched)); keep the keel_KeelCore.resources folder next to the binary, or set \(variable) to the file's path")
    }

    /// The number of tokens in `text`.
    public func count(_ text: String) -> Int {
        var count = 0
        forEachPiece(of: text) { piece in
            count += table.rank(of: piece) != nil ? 1 : bytePairMerge(piece).count - 1
        }
        return count
    }

    /// The tokens of `text`.
    public func encode(_ text: String) -> [Int] {
        var result: [Int] = []
        forEachPiece(of: text) { piece in
            if let rank = table.rank(of: piece) {
                result.append(rank)
                return
            }
            let parts = bytePairMerge(piece)
            for index in 0..<(parts.count - 1) {
                if let rank = table.rank(of: UnsafeBufferPointer(rebasing: piece[parts[index]..<parts[index + 1]])) { result.append(rank) }
            }
        }
        return result
    }

    /// The bytes of `tokens`; unknown token ids are skipped.
    public func decodeBytes(_ tokens: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for token in tokens {
            if let tokenBytes = table.bytes(ofRank: token) { bytes.append(contentsOf: tokenBytes) }
        }
        return bytes
    }

    /// The text of `tokens`; bytes that are not valid UTF-8 (a character cut in two) become U+FFFD.
    public func decode(_ tokens: [Int]) -> String {
        String(decoding: decodeBytes(tokens), as: UTF8.self)
    }

    /// The last `limit` tokens of `text`, as text. A character cut in two at the start is dropped.
    public func suffix(_ text: String, maxTokens limit: Int) -> String {
        let encoded = encode(text)
        guard encoded.count > limit else { return text }
        var bytes = decodeBytes(Array(encoded.suffix(max(0, limit))))
        while let first = bytes.first, first & 0xC0 == 0x80 { bytes.removeFirst() }  // a continuation byte
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Calls `body` with the UTF-8 bytes of each piece the pattern cuts `text` into.
    private func forEachPiece(of text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        // ICU's matcher gives up (and reports no match at all) on a run of a million letters, so
        // that such a text counted as no tokens. A long text is split into segments the matcher
        // can take; a piece longer than a segment is cut at its edge, which costs at most a token
        // a segment against tiktoken's count.
        let segmentLength = 32_768
        guard text.utf16.count > segmentLength else {
            forEachPiece(ofSegment: text, body)
            return
        }
        var start = text.startIndex
        while start < text.endIndex {
            let end = text.utf16.index(start, offsetBy: segmentLength, limitedBy: text.endIndex) ?? text.endIndex
            // On a character boundary, so that no scalar is split.
            let boundary = end == text.endIndex ? end : text[start..<end].indices.last ?? end
            let cut = boundary > start ? boundary : end
            forEachPiece(ofSegment: String(text[start..<cut]), body)
            start = cut
        }
    }

    private func forEachPiece(ofSegment text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let string = text as NSString
        let matches = pattern.regex.matches(in: text, range: NSRange(location: 0, length: string.length))
        for match in matches where match.range.length > 0 {
            var piece = string.substring(with: match.range)
            piece.withUTF8 { body($0) }
        }
    }

    /// tiktoken's merge: repeatedly join the adjacent pair with the lowest rank (the leftmost on a
    /// tie) until no pair is in the vocabulary; returns the part boundaries.
    private func bytePairMerge(_ piece: UnsafeBufferPointer<UInt8>) -> [Int] {
        // The simple merge rescans every pair after each merge: quadratic, which a megabyte of
        // letters (one piece) turns into 10¹² steps. Long pieces take the heap.
        piece.count > 64 ? bytePairMergeLong(piece) : bytePairMergeShort(piece)
    }

    /// Merges by rescanning every pair after each merge: fastest for the short pieces of text.
    func bytePairMergeShort(_ piece: UnsafeBufferPointer<UInt8>) -> [Int] {
        guard piece.count > 1 else { return [0, piece.count] }
        var starts: [Int] = []
        var ranks: [Int] = []
        starts.reserveCapacity(piece.count + 1)
        ranks.reserveCapacity(piece.count + 1)
        func rank(_ from: Int, _ to: Int) -> Int {
            table.rank(of: UnsafeBufferPointer(rebasing: piece[from..<to])) ?? Int.max
        }
        var minimum = (rank: Int.max, index: Int.max)
        for index in 0..<(piece.count - 1) {
            let pairRank = rank(index, index + 2)
            if pairRank < minimum.rank { minimum = (pairRank, index) }
            starts.append(index)
            ranks.append(pairRank)
        }
        starts.append(contentsOf: [piece.count - 1, piece.count])
        ranks.append(contentsOf: [Int.max, Int.max])
        func rankAfterMerge(_ index: Int) -> Int {
            index + 3 < starts.count ? rank(starts[index], starts[index + 3]) : Int.max
        }
        while minimum.rank != Int.max {
            let index = minimum.index
            if index > 0 { ranks[index - 1] = rankAfterMerge(index - 1) }
            ranks[index] = rankAfterMerge(index)
            starts.remove(at: index + 1)
            ranks.remove(at: index + 1)
            minimum = (Int.max, Int.max)
            for position in 0..<(ranks.count - 1) where ranks[position] < minimum.rank {
                minimum = (ranks[position], position)
            }
        }
        return starts
    }
}

extension BPETokenizer {
    /// The same merges as `bytePairMerge`, in O(n log n): the parts form a linked list, the
    /// candidate pairs wait in a min-heap by (rank, position) — lowest rank first, leftmost on a
    /// tie, as tiktoken merges — and a pair made stale by a neighbouring merge is skipped when it
    /// comes up.
    func bytePairMergeLong(_ piece: UnsafeBufferPointer<UInt8>) -> [Int] {
        let count = piece.count
        // Part i starts at byte `start[i]`; parts 0..<count, plus the end at `count`.
        let start = Array(0...count)
        var next = Array(1...(count + 1))
        var previous = Array(-1..<count)
        var alive = [Bool](repeating: true, count: count + 1)
        var rankOf = [Int](repeating: Int.max, count: count + 1)
        func pairRank(_ part: Int) -> Int {
            let second = next[part]
            guard second < count else { return Int.max }
            let end = next[second] <= count ? start[next[second]] : count
            return table.rank(of: UnsafeBufferPointer(rebasing: piece[start[part]..<end])) ?? Int.max
        }
        var heap = MinHeap()
        for part in 0..<(count - 1) {
            rankOf[part] = pairRank(part)
            if rankOf[part] != Int.max { heap.push((rankOf[part], part)) }
        }
        while let (rank, part) = heap.pop() {
            guard alive[part], rankOf[part] == rank, rank != Int.max else { continue }
            // Merge `part` with the part after it.
            let absorbed = next[part]
            alive[absorbed] = false
            next[part] = next[absorbed]
            if next[absorbed] <= count { previous[next[absorbed]] = part }
            rankOf[part] = pairRank(part)
            if rankOf[part] != Int.max { heap.push((rankOf[part], part)) }
            let before = previous[part]
            if before >= 0 {
                rankOf[before] = pairRank(before)
                if rankOf[before] != Int.max { heap.push((rankOf[before], before)) }
            }
        }
        var starts: [Int] = []
        var part = 0
        while part < count {
            starts.append(start[part])
            part = next[part]
        }
        starts.append(count)
        return starts
    }
}

/// A binary min-heap of (rank, position), ordered by rank and then position.
struct MinHeap {
    private var items: [(Int, Int)] = []

    private static func less(_ a: (Int, Int), _ b: (Int, Int)) -> Bool {
        a.0 != b.0 ? a.0 < b.0 : a.1 < b.1
    }

    mutating func push(_ item: (Int, Int)) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Int, Int)? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, Self.less(items[left], items[smallest]) { smallest = left }
            if right < items.count, Self.less(items[right], items[smallest]) { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}

/// `NSRegularExpression` is immutable and safe to share once built; this box says so to the
/// compiler.
struct SendableRegex: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
}
