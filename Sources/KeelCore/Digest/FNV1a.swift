/// FNV-1a, 64 bits, over UTF-8: a fast hash that is the same in every process and on every
/// machine (unlike `Hasher`), for deterministic offline models and feature hashing — not for
/// anything an attacker chooses.
public enum FNV1a {
    public static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}
