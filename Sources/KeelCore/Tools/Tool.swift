import Logging

/// A function the model can call: a name, a description, typed arguments and a typed output.
///
/// The arguments' JSON Schema comes from the `Arguments` type (derive it with ``Schema()``), so it
/// can never drift from the code. Keel parses, validates and decodes the model's arguments before
/// ``call(_:context:)`` runs; bad arguments, an unknown name, a thrown error or a timeout become a
/// tool result the model reads, never a crash.
///
/// ```swift
/// struct Weather: Tool {
///     @Schema struct Arguments: Decodable { /// A city name. \n var city: String }
///     let name = "weather"
///     let description = "Current weather for a city."
///     func call(_ arguments: Arguments, context: ToolContext) async throws -> String {
///         "Sunny in \(arguments.city)"
///     }
/// }
/// ```
public protocol Tool: Sendable {
    /// The decoded arguments; its schema is what the model sees.
    associatedtype Arguments: Decodable & Sendable & SchemaRepresentable
    /// The result; a `String` goes to the model as it is, anything else as JSON.
    associatedtype Output: Encodable & Sendable

    /// The name the model calls the tool by: letters, digits, `_` and `-`.
    var name: String { get }
    /// What the tool does and when to use it; the model reads this.
    var description: String { get }
    /// Whether calling the tool changes something outside the run (sends mail, moves money).
    /// A side-effecting call that was started but not finished before a crash is *in doubt* on
    /// resume. Default: `false`.
    var isSideEffecting: Bool { get }

    /// Runs the tool. Throw to report a failure to the model; the error's description is what it
    /// reads, so keep secrets out of it.
    func call(_ arguments: Arguments, context: ToolContext) async throws -> Output
}

extension Tool {
    public var isSideEffecting: Bool { false }

    /// The tool as the model sees it.
    public var definition: ToolDefinition {
        ToolDefinition(name: name, description: description, parameters: Arguments.jsonSchema)
    }
}

/// What a tool knows about the call it is serving.
public struct ToolContext: Sendable {
    /// The logger tools get when the runtime gives none (`keel.tool`).
    public static let defaultLogger = Logger(label: "keel.tool")

    /// The model's id for this call.
    public var callID: String
    /// The tool's name.
    public var toolName: String
    /// A key that stays the same when the same call is retried or replayed after a crash (run id
    /// and step sequence in a durable run). Pass it to payment and mail APIs that deduplicate.
    public var idempotencyKey: String
    /// The durable run the call belongs to, if any.
    public var runID: String?
    /// A logger with the run and call attached as metadata.
    public var logger: Logger

    public init(callID: String, toolName: String, idempotencyKey: String? = nil, runID: String? = nil, logger: Logger = ToolContext.defaultLogger) {
        self.callID = callID
        self.toolName = toolName
        self.idempotencyKey = idempotencyKey ?? callID
        self.runID = runID
        self.logger = logger
    }
}
