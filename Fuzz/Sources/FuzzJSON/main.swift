import Foundation
import FuzzSupport
import KeelCore

/// Keel's JSON parser against Foundation's: on any bytes, no crash; what Keel accepts, Foundation
/// accepts too (Keel is never the more lenient); and what Keel parses, serialized and parsed
/// again, is the same value. The other direction is not checked: Foundation's parser is lenient
/// where RFC 8259 is not (it stops at a NUL byte, so `0\0h` is `0`; it takes `[3,3,]`). Inputs
/// with `\uD800`–`\uDFFF` escapes are left out: Keel reads a lone surrogate as U+FFFD (as
/// JavaScript's JSON.parse accepts it), Foundation refuses it; RFC 8259 leaves both open.
@_cdecl("FuzzJSON_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        let input = bytes(data, count)
        let keel = try? JSONValue(parsing: input)
        let comparable = !input.contains(0) && !hasSurrogateEscape(input) && String(bytes: input, encoding: .utf8) != nil
        let foundation = comparable ? try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed]) : nil
        if let keel {
            guard let again = try? JSONValue(parsing: keel.serialized()), again == keel else { finding("a parsed value does not survive serializing") }
            if comparable, foundation == nil { finding("Keel accepts what Foundation rejects") }
        }
        return 0
    }
}

/// Whether the input holds a `\u` escape of a UTF-16 surrogate (`\uD800`…`\uDFFF`).
func hasSurrogateEscape(_ input: [UInt8]) -> Bool {
    guard input.count >= 4 else { return false }
    for index in 0..<(input.count - 3) where input[index] == UInt8(ascii: "\\") && input[index + 1] == UInt8(ascii: "u") {
        let high = input[index + 2] | 0x20, next = input[index + 3] | 0x20
        if high == UInt8(ascii: "d"), (UInt8(ascii: "8")...UInt8(ascii: "9")).contains(next) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(next) {
            return true
        }
    }
    return false
}
