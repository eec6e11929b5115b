import Foundation

/// A type-erased tool: its definition and a way to call it with the model's raw arguments.
///
/// Wrap a ``Tool`` with ``init(_:)``, or build one from a schema and a closure for tools known
/// only at run time (MCP servers, plugins).
public struct AnyTool: Sendable {
    /// The tool as the model sees it.
    public let definition: ToolDefinition
    /// Whether the tool changes something outside the run. See ``Tool/isSideEffecting``.
    public let isSideEffecting: Bool
    /// Whether the tool runs durable steps of its own (an agent used as a tool, a crew's
    /// delegation): the runtime then gives it no timeout of its own — its steps carry theirs — and
    /// lets a run-level error it throws (a wait, a replay mismatch, a model failure of a durable
    /// run) end the step instead of turning it into a tool result. Default: `false`.
    public let runsSteps: Bool
    private let body: @Sendable (JSONValue, ToolContext) async throws -> String

    /// The tool's name.
    public var name: String { definition.name }

    /// Wraps a typed tool: arguments are decoded into `T.Arguments`, outputs encoded as JSON
    /// unless they are strings.
    public init<T: Tool>(_ tool: T) {
        definition = tool.definition
        isSideEffecting = tool.isSideEffecting
        runsSteps = false
        body = { arguments, context in
            let decoded: T.Arguments
            do {
                decoded = try arguments.decode(as: T.Arguments.self)
            } catch {
                throw ToolCallError(.invalidArguments, "the arguments do not fit the tool: \(Self.describeDecodingError(error))")
            }
            let output = try await tool.call(decoded, context: context)
            if let text = output as? String { return text }
            return try JSONValue(encoding: output).serialized()
        }
    }

    /// A tool from a definition and a closure that takes the validated JSON arguments.
    public init(
        definition: ToolDefinition, isSideEffecting: Bool = false, runsSteps: Bool = false,
        call: @escaping @Sendable (JSONValue, ToolContext) async throws -> String
    ) {
        self.definition = definition
        self.isSideEffecting = isSideEffecting
        self.runsSteps = runsSteps
        body = call
    }

    /// Parses the model's argument text as JSON (empty text counts as `{}`), checks it against
    /// the schema, and calls the tool.
    ///
    /// - Throws: ``ToolCallError`` with ``ToolCallError/Code/invalidJSON`` or
    ///   ``ToolCallError/Code/invalidArguments`` before the tool runs; whatever the tool throws
    ///   after.
    public func call(arguments: String, context: ToolContext) async throws -> String {
        try await call(validatedArguments: try validatedArguments(arguments), context: context)
    }

    /// Calls the tool with arguments that ``validatedArguments(_:)`` has already checked.
    public func call(validatedArguments arguments: JSONValue, context: ToolContext) async throws -> String {
        try await body(arguments, context)
    }

    /// Parses and validates argument text without calling the tool.
    public func validatedArguments(_ arguments: String) throws(ToolCallError) -> JSONValue {
        let value: JSONValue
        do {
            let isBlank = arguments.utf8.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
            value = isBlank ? .object([:]) : try JSONValue(parsing: arguments)
        } catch {
            throw ToolCallError(.invalidJSON, "the arguments are not valid JSON (\(error.description)). Send a JSON object that matches the tool's schema.")
        }
        let violations = definition.parameters.validate(value)
        if !violations.isEmpty {
            let list = violations.prefix(5).map(\.description).joined(separator: "; ")
            throw ToolCallError(.invalidArguments, "the arguments break the tool's schema: \(list).")
        }
        return value
    }

    private static func describeDecodingError(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ context: DecodingError.Context) -> String {
            let components = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return components.isEmpty ? "" : "/" + components.joined(separator: "/") + ": "
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context))missing '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return path(context) + context.debugDescription
        @unknown default: return String(describing: error)
        }
    }
}
