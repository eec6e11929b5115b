import FuzzSupport
import KeelCore

let tokenizer: BPETokenizer = {
    do {
        return try BPETokenizer.cl100kBase()
    } catch {
        fatalError("the vocabulary did not load: \(error)")
    }
}()

/// The tokenizer on any text: tokens decode to the text's bytes, and the count is the number of
/// tokens (at least one per 64 bytes, at most one per byte).
@_cdecl("FuzzTokenizer_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        let text = String(decoding: bytes(data, count), as: UTF8.self)
        let tokens = tokenizer.encode(text)
        if tokenizer.decodeBytes(tokens) != Array(text.utf8) { finding("tokens do not decode to the text") }
        if tokenizer.count(text) != tokens.count { finding("the count is not the number of tokens") }
        let length = text.utf8.count
        if tokens.count > length || (length > 0 && tokens.count * 64 < length) { finding("\(tokens.count) tokens for \(length) bytes") }
        return 0
    }
}
