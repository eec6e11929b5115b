import Testing

@testable import KeelCore

@Suite(.timeLimit(.minutes(5))) struct ServerSentEventParserTests {
    static let stream = Array(
        ": keep-alive\r\ndata: {\"a\":1}\r\n\r\nevent: delta\ndata: line one\ndata: line two\nid: 7\n\ndata: ünïcødé 🧪\r\rdata:no-space\n\ndata: [DONE]\n\n".utf8)
    static let expected = [
        ServerSentEvent(data: #"{"a":1}"#),
        ServerSentEvent(event: "delta", data: "line one\nline two", id: "7"),
        ServerSentEvent(data: "ünïcødé 🧪", id: "7"),
        ServerSentEvent(data: "no-space", id: "7"),
        ServerSentEvent(data: "[DONE]", id: "7"),
    ]

    @Test func parsesAWholeStream() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Self.stream) + parser.finish() == Self.expected)
    }

    @Test(arguments: 1...17)
    func parsesTheSameEventsWhateverTheChunkSize(size: Int) throws {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        var start = 0
        while start < Self.stream.count {
            let end = min(start + size, Self.stream.count)
            events += try parser.feed(Self.stream[start..<end])
            start = end
        }
        events += try parser.finish()
        #expect(events == Self.expected)
    }

    @Test func parsesTheSameEventsWhereverTheStreamIsSplit() throws {
        for split in 0...Self.stream.count {
            var parser = ServerSentEventParser()
            let events = try parser.feed(Self.stream[..<split]) + parser.feed(Self.stream[split...]) + parser.finish()
            #expect(events == Self.expected, "split at byte \(split)")
        }
    }

    @Test func keepsAnEventWhoseBlankLineNeverCame() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("data: partial".utf8)).isEmpty)
        #expect(try parser.finish() == [ServerSentEvent(data: "partial")])
    }

    @Test func anEndlessLineIsRefusedAtItsLimit() {
        var parser = ServerSentEventParser(limits: .init(lineBytes: 1_024))
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 100)
        var fed = 0
        let error = #expect(throws: ServerSentEventParser.LimitExceeded.self) {
            while fed < 1 << 20 {
                _ = try parser.feed(chunk)
                fed += chunk.count
            }
        }
        #expect(error?.what == "line")
        #expect(fed <= 1_024, "bytes kept before the refusal")
    }

    @Test func anEventOfManyLinesIsRefusedAtItsLimit() {
        var parser = ServerSentEventParser(limits: .init(lineBytes: 1_024, eventBytes: 4_096))
        let line = Array(("data: " + String(repeating: "x", count: 500) + "\n").utf8)
        let error = #expect(throws: ServerSentEventParser.LimitExceeded.self) {
            for _ in 0..<100 { _ = try parser.feed(line) }
        }
        #expect(error?.what == "event")
    }

    @Test func aStreamIsRefusedPastItsTotalAndEventsWithinItArrive() throws {
        var parser = ServerSentEventParser(limits: .init(totalBytes: 64))
        let event = Array("data: 0123456789\n\n".utf8)  // 18 bytes
        var events: [ServerSentEvent] = []
        let error = #expect(throws: ServerSentEventParser.LimitExceeded.self) {
            for _ in 0..<10 { events += try parser.feed(event) }
        }
        #expect(error?.what == "stream")
        #expect(events.count == 3)
    }
}
