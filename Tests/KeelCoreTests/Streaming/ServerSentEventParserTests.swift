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

    @Test func parsesAWholeStream() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Self.stream) + parser.finish() == Self.expected)
    }

    @Test(arguments: 1...17)
    func parsesTheSameEventsWhateverTheChunkSize(size: Int) {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        var start = 0
        while start < Self.stream.count {
            let end = min(start + size, Self.stream.count)
            events += parser.feed(Self.stream[start..<end])
            start = end
        }
        events += parser.finish()
        #expect(events == Self.expected)
    }

    @Test func parsesTheSameEventsWhereverTheStreamIsSplit() {
        for split in 0...Self.stream.count {
            var parser = ServerSentEventParser()
            let events = parser.feed(Self.stream[..<split]) + parser.feed(Self.stream[split...]) + parser.finish()
            #expect(events == Self.expected, "split at byte \(split)")
        }
    }

    @Test func keepsAnEventWhoseBlankLineNeverCame() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("data: partial".utf8)).isEmpty)
        #expect(parser.finish() == [ServerSentEvent(data: "partial")])
    }
}
