/// Why a tool call produced no output. Its ``modelText`` is what the model reads as the result.
public struct ToolCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of failure. Safe to use as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible, Codable {
        public let rawValue: String

        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The model named a tool that does not exist.
        public static let unknownTool = Code("unknown_tool")
        /// The arguments are not JSON.
        public static let invalidJSON = Code("invalid_json")
        /// The arguments are JSON but break the tool's schema or do not decode.
        public static let invalidArguments = Code("invalid_arguments")
        /// The tool threw.
        public static let failed = Code("failed")
        /// The tool did not finish within its timeout.
        public static let timedOut = Code("timed_out")
        /// A policy refused the call.
        public static let refused = Code("refused")
        /// The call was not run (the run stopped first, for instance at its step limit).
        public static let notRun = Code("not_run")

        public var description: String { rawValue }

        public init(from decoder: any Decoder) throws { rawValue = try String(from: decoder) }
        public func encode(to encoder: any Encoder) throws { try rawValue.encode(to: encoder) }
    }

    public var code: Code
    /// What went wrong, written for the model to read and act on.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The tool result text the model reads.
    public var modelText: String { "Error: \(message)" }

    public var description: String { "\(code): \(message)" }
}
