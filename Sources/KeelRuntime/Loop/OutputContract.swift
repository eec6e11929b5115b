import Foundation
import KeelCore

/// What a typed run's final answer must be: JSON that matches a schema and decodes into a type.
///
/// ``Agent/run(_:returning:observer:)`` makes one from the type; the ``AgentLoop`` checks every
/// final answer against it, sends an answer that fails back to the model with what is wrong (up
/// to ``AgentConfiguration/maxOutputRepairs`` times), and ends with
/// ``AgentOutcome/invalidOutput(_:)`` when repairs run out.
public struct OutputContract: Sendable {
    /// The name the provider knows the schema by (letters, digits, `_` and `-`, at most 64).
    public var name: String
    public var schema: JSONSchema
    /// Whether to ask the provider for strict decoding (OpenAI's structured outputs), which it
    /// allows only when every object lists all its properties as required and allows no others.
    public var strict: Bool
    private let decodes: @Sendable (JSONValue) -> String?

    /// A contract for answers that match `schema` and that `decodes` accepts (it returns what is
    /// wrong, or `nil`).
    public init(name: String, schema: JSONSchema, strict: Bool? = nil, decodes: @escaping @Sendable (JSONValue) -> String? = { _ in nil }) {
        self.name = Self.providerName(name)
        self.schema = schema
        self.strict = strict ?? schema.allowsStrictMode
        self.decodes = decodes
    }

    /// A contract for answers that decode into `Output`, with the schema `Output` declares.
    public static func decoding<Output: Decodable & SchemaRepresentable & SendableMetatype>(_ type: Output.Type) -> OutputContract {
        OutputContract(name: String(describing: Output.self), schema: Output.jsonSchema) { value in
            do {
                _ = try value.decode(as: Output.self)
                return nil
            } catch {
                return "it does not decode as \(Output.self): \(error)"
            }
        }
    }

    /// The response format that asks the provider for this output.
    public var responseFormat: ResponseFormat { .jsonSchema(name: name, schema: schema, strict: strict) }

    /// The JSON of `answer`, or what is wrong with it. A Markdown code fence around the JSON is
    /// accepted (models add one unasked).
    public func check(_ answer: String) -> Result<JSONValue, OutputProblem> {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: String(Self.unfenced(answer)))
        } catch {
            return .failure(OutputProblem(description: "it is not JSON: \(error)"))
        }
        let violations = schema.validate(value)
        if !violations.isEmpty {
            return .failure(OutputProblem(description: "it does not match the schema: " + violations.prefix(10).map(\.description).joined(separator: "; ")))
        }
        if let problem = decodes(value) { return .failure(OutputProblem(description: problem)) }
        return .success(value)
    }

    /// The user message that sends a failed answer back to the model.
    public func repairRequest(_ problem: OutputProblem) -> String {
        "Your answer is not valid output: \(problem.description). Answer again with only a JSON value that matches the schema \(name): \(schema.jsonValue.serialized())"
    }

    /// `text` without surrounding whitespace and a surrounding Markdown code fence.
    static func unfenced(_ text: String) -> Substring {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)[...]
        guard body.hasPrefix("```"), body.hasSuffix("```"), body.count >= 6, let newline = body.firstIndex(of: "\n") else { return body }
        body = body[body.index(after: newline)..<body.index(body.endIndex, offsetBy: -3)]
        return body
    }

    /// `name` with every character a provider refuses replaced by `_`, cut to 64 characters.
    static func providerName(_ name: String) -> String {
        let allowed = name.unicodeScalars.prefix(64).map { scalar -> Character in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-") ? Character(scalar) : "_"
        }
        return allowed.isEmpty ? "output" : String(allowed)
    }
}

/// Why a final answer is not valid output.
public struct OutputProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
}
