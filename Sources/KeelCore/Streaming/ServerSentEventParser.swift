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
///     for event in try parser.feed(chunk) { handle(event.data) }
/// }
/// for event in try parser.finish() { handle(event.data) }
/// ```
///
/// What a server sends is bounded (``Limits``): a line, an event and, optionally, the whole
/// stream. Past a limit the parser throws ``LimitExceeded`` and keeps nothing more, so a
/// hostile or broken server cannot fill the memory with one endless line.
public struct ServerSentEventParser: Sendable {
    /// How much a stream may hold.
    public struct Limits: Sendable, Hashable {
        /// The longest line, in bytes. Default: 1 MiB.
        public var lineBytes: Int = 1 << 20
        /// The largest event (its data lines together), in bytes. Default: 8 MiB.
        public var eventBytes: Int = 8 << 20
        /// The most bytes the whole stream may have; `nil` for no limit. Default: `nil`.
        public var totalBytes: Int?

        public init(lineBytes: Int = 1 << 20, eventBytes: Int = 8 << 20, totalBytes: Int? = nil) {
            self.lineBytes = lineBytes
            self.eventBytes = eventBytes
            self.totalBytes = totalBytes
        }
    }

    /// A stream that went past one of its ``Limits``.
    public struct LimitExceeded: Error, Sendable, Hashable, CustomStringConvertible {
        /// What was too large: `line`, `event` or `stream`.
        public var what: String
        /// The limit, in bytes.
        public var limit: Int

        public var description: String { "the event stream sent a \(what) longer than \(limit) bytes" }
    }

    /// The limits in force.
    public let limits: Limits
    private var line: [UInt8] = []
    private var eventBytes = 0
    private var totalBytes = 0
    private var previousWasCR = false
    private var dataLines: [String] = []
    private var hasData = false
    private var eventType: String?
    private var eventID: String?

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Adds bytes and returns the events they complete.
    ///
    /// - Throws: ``LimitExceeded`` when a line, an event or the stream goes past its limit.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(LimitExceeded) -> [ServerSentEvent] {
        totalBytes = totalBytes.addingSaturating(bytes.count)
        if let limit = limits.totalBytes, totalBytes > limit { throw LimitExceeded(what: "stream", limit: limit) }
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case 0x0A:  // LF, or the second half of CRLF
                if previousWasCR {
                    previousWasCR = false
                    continue
                }
                try endLine(into: &events)
            case 0x0D:  // CR
                previousWasCR = true
                try endLine(into: &events)
            default:
                previousWasCR = false
                guard line.count < limits.lineBytes else {
                    line = []
                    throw LimitExceeded(what: "line", limit: limits.lineBytes)
                }
                line.append(byte)
            }
        }
        return events
    }

    /// Ends the stream: an event whose blank line never came is returned rather than lost.
    public mutating func finish() throws(LimitExceeded) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        if !line.isEmpty { try endLine(into: &events) }
        dispatch(into: &events)
        return events
    }

    private mutating func endLine(into events: inout [ServerSentEvent]) throws(LimitExceeded) {
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
            eventBytes += value.utf8.count + 1
            guard eventBytes <= limits.eventBytes else {
                dataLines = []
                eventBytes = 0
                throw LimitExceeded(what: "event", limit: limits.eventBytes)
            }
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
            eventBytes = 0
            hasData = false
            eventType = nil
        }
        guard hasData else { return }
        events.append(ServerSentEvent(event: eventType, data: dataLines.joined(separator: "\n"), id: eventID))
    }
}
