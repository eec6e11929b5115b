import FuzzSupport
import KeelCore

/// The event-stream parser: the first byte of the input picks where the rest is cut into pieces;
/// any cutting gives the same events (or the same limit error), and nothing grows past the limits.
@_cdecl("FuzzSSE_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        let input = bytes(data, count)
        guard let first = input.first else { return 0 }
        let body = Array(input.dropFirst())
        let limits = ServerSentEventParser.Limits(lineBytes: 256, eventBytes: 1_024, totalBytes: 16_384)
        func parse(pieces: Int) -> Result<[ServerSentEvent], ServerSentEventParser.LimitExceeded> {
            var parser = ServerSentEventParser(limits: limits)
            var events: [ServerSentEvent] = []
            let size = max(1, body.count / max(1, pieces))
            do {
                var start = 0
                while start < body.count {
                    let end = min(body.count, start + size)
                    events += try parser.feed(body[start..<end])
                    start = end
                }
                events += try parser.finish()
            } catch {
                return .failure(error)
            }
            for event in events where event.data.utf8.count > limits.eventBytes { finding("an event larger than its limit") }
            return .success(events)
        }
        let whole = parse(pieces: 1)
        let cut = parse(pieces: Int(first) + 1)
        switch (whole, cut) {
        case (.success(let a), .success(let b)) where a != b: finding("the events depend on how the stream is cut")
        case (.success, .failure), (.failure, .success): finding("a limit error depends on how the stream is cut")
        default: break
        }
        return 0
    }
}
