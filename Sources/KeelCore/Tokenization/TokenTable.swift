/// The vocabulary of a byte-pair encoding, packed for speed: every token's bytes in one buffer and
/// an open-addressing hash table from bytes to rank. Loading a 100,000-token vocabulary makes a
/// handful of allocations instead of one per token.
struct TokenTable: Sendable {
    /// Every token's bytes, back to back.
    private(set) var blob: [UInt8] = []
    /// For entry `i`: its bytes are `blob[starts[i] ..< starts[i] + lengths[i]]` and its rank `ranks[i]`.
    private var starts: [Int32] = []
    private var lengths: [Int32] = []
    private var ranks: [Int32] = []
    /// The entry of each rank, or -1.
    private var entryOfRank: [Int32] = []
    /// Hash slots holding entry indexes, or -1; the capacity is a power of two.
    private var slots: [Int32] = []

    var count: Int { ranks.count }

    /// Reads a `.tiktoken` file: one `base64-token rank` pair a line.
    init(tiktoken data: [UInt8]) throws(BPETokenizer.LoadError) {
        var decode = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            decode[Int(character)] = UInt8(value)
        }
        blob.reserveCapacity(data.count * 3 / 4)
        var line = 1
        var failure: BPETokenizer.LoadError?
        data.withUnsafeBufferPointer { bytes in
            var index = 0
            while index < bytes.count {
                if bytes[index] == 0x0A || bytes[index] == 0x0D {
                    index += 1
                    continue
                }
                // Base64 token up to the space.
                let start = blob.count
                var accumulator: UInt32 = 0
                var bits = 0
                while index < bytes.count, bytes[index] != 0x20 {
                    let character = bytes[index]
                    index += 1
                    if character == UInt8(ascii: "=") { continue }
                    let value = decode[Int(character)]
                    guard value != 0xFF else {
                        failure = BPETokenizer.LoadError(description: "line \(line) of the vocabulary has a character that is not base64")
                        return
                    }
                    accumulator = accumulator << 6 | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        blob.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                    }
                }
                guard index < bytes.count else {
                    failure = BPETokenizer.LoadError(description: "line \(line) of the vocabulary has no rank")
                    return
                }
                index += 1  // the space
                var rank = 0
                var digits = 0
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                    rank = rank * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                    digits += 1
                    index += 1
                }
                guard digits > 0, digits < 10, blob.count > start, index == bytes.count || bytes[index] == 0x0A || bytes[index] == 0x0D else {
                    failure = BPETokenizer.LoadError(description: "line \(line) of the vocabulary is not 'base64 rank'")
                    return
                }
                starts.append(Int32(start))
                lengths.append(Int32(blob.count - start))
                ranks.append(Int32(rank))
                line += 1
            }
        }
        if let failure { throw failure }
        guard !ranks.isEmpty else { throw BPETokenizer.LoadError(description: "the vocabulary is empty") }
        buildIndex()
    }

    private mutating func buildIndex() {
        var capacity = 1
        while capacity < ranks.count * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        let maximumRank = Int(ranks.max() ?? 0)
        entryOfRank = [Int32](repeating: -1, count: maximumRank + 1)
        let mask = capacity - 1
        blob.withUnsafeBufferPointer { blob in
            for entry in 0..<ranks.count {
                let start = Int(starts[entry])
                let bytes = UnsafeBufferPointer(rebasing: blob[start..<(start + Int(lengths[entry]))])
                var slot = Int(Self.hash(bytes) & UInt64(mask))
                while slots[slot] != -1 { slot = (slot + 1) & mask }
                slots[slot] = Int32(entry)
                entryOfRank[Int(ranks[entry])] = Int32(entry)
            }
        }
    }

    /// FNV-1a.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }

    /// The rank of a byte string, or `nil` when it is not a token.
    func rank(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let needle = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = Int(Self.hash(bytes) & UInt64(mask))
        return blob.withUnsafeBufferPointer { blob -> Int? in
            guard let base = blob.baseAddress else { return nil }
            while true {
                let entry = Int(slots[slot])
                if entry < 0 { return nil }
                if Int(lengths[entry]) == bytes.count, memcmp(base + Int(starts[entry]), needle, bytes.count) == 0 {
                    return Int(ranks[entry])
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The bytes of a rank, or `nil` when no token has it.
    func bytes(ofRank rank: Int) -> ArraySlice<UInt8>? {
        guard rank >= 0, rank < entryOfRank.count, entryOfRank[rank] >= 0 else { return nil }
        let entry = Int(entryOfRank[rank])
        let start = Int(starts[entry])
        return blob[start..<(start + Int(lengths[entry]))]
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
