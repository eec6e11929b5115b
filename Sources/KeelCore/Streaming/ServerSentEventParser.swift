/// One server-sent event.
public struct ServerSentEvent: Sendable, Hashable {
    /// The `event:` field, if given.
    public var event: String?
    /// The `data:` lines, joined by newlines.
    public var data: String
    /// The `id:` field, if given.
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// An incremental parser for `text/event-stream` bodies (the WHATWG server-sent events format).
///
/// Feed it bytes as they arrive, split anywhere — inside a line, inside a CRLF, inside a
/// multi-byte character — and it returns each event once its terminating blank line has arrived.
///
/// ```swift
/// var parser = ServerSentEventParser()
/// for try await chunk in body {
///     for event in parser.feed(chunk) { handle(event.data) }
/// }
/// for event in parser.finish() { handle(event.data) }
/// ```
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var previousWasCR = false
    private var dataLines: [String] = []
    private var hasData = false
    private var eventType: String?
    private var eventID: String?

    public init() {}

    /// Adds bytes and returns the events they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case 0x0A:  // LF, or the second half of CRLF
                if previousWasCR {
                    previousWasCR = false
                    continue
                }
                endLine(into: &events)
            case 0x0D:  // CR
                previousWasCR = true
                endLine(into: &events)
            default:
                previousWasCR = false
                line.append(byte)
            }
        }
        return events
    }

    /// Ends the stream: an event whose blank line never came is returned rather than lost.
    public mutating func finish() -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        if !line.isEmpty { endLine(into: &events) }
        dispatch(into: &events)
        return events
    }

    private mutating func endLine(into events: inout [ServerSentEvent]) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            dispatch(into: &events)
            return
        }
        if line.first == UInt8(ascii: ":") { return }  // a comment, such as a keep-alive
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "data":
            dataLines.append(String(value))
            hasData = true
        case "event":
            eventType = String(value)
        case "id":
            eventID = String(value)
        default:
            break  // `retry` and unknown fields are ignored
        }
    }

    private mutating func dispatch(into events: inout [ServerSentEvent]) {
        defer {
            dataLines.removeAll()
            hasData = false
            eventType = nil
        }
        guard hasData else { return }
        events.append(ServerSentEvent(event: eventType, data: dataLines.joined(separator: "\n"), id: eventID))
    }
}
