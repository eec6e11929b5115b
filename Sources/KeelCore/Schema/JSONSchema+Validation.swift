import Foundation

/// One way a JSON value breaks a schema: where (a JSON Pointer) and what.
public struct SchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// A JSON Pointer to the offending value; `""` is the whole document.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

extension JSONSchema {
    /// Checks `value` against this schema and returns every violation found (empty when valid).
    ///
    /// Supports `type` (where `integer` means a number without a fraction), `properties`,
    /// `required`, `additionalProperties`, `items`, `enum`, numeric bounds, string lengths (in
    /// Unicode scalars), `pattern`, item counts and `anyOf`. Unknown keywords are ignored, as JSON
    /// Schema says.
    public func validate(_ value: JSONValue) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        validate(value, path: { "" }, into: &violations)
        // Members are visited in dictionary order; report in a stable one.
        return violations.count > 1 ? violations.sorted { ($0.path, $0.message) < ($1.path, $1.message) } : violations
    }

    private func validate(_ value: JSONValue, path: () -> String, into violations: inout [SchemaViolation]) {
        if !types.isEmpty, !types.contains(where: { Self.value(value, hasKind: $0) }) {
            let expected = types.map(\.rawValue).joined(separator: " or ")
            violations.append(SchemaViolation(path: path(), message: "expected \(expected), got \(Self.describeKind(of: value))"))
            return
        }
        if let allowedValues, !allowedValues.contains(value) {
            let list = allowedValues.map(\.description).joined(separator: ", ")
            violations.append(SchemaViolation(path: path(), message: "\(value) is not one of \(list)"))
        }
        switch value {
        case .number(let number): validateNumber(number, path: path, into: &violations)
        case .string(let string): validateString(string, path: path, into: &violations)
        case .array(let elements): validateArray(elements, path: path, into: &violations)
        case .object(let members): validateObject(members, path: path, into: &violations)
        case .null, .bool: break
        }
        if !anyOf.isEmpty, !anyOf.contains(where: { $0.validate(value).isEmpty }) {
            violations.append(SchemaViolation(path: path(), message: "matches none of the \(anyOf.count) allowed forms"))
        }
    }

    private func validateNumber(_ number: Double, path: () -> String, into violations: inout [SchemaViolation]) {
        if let minimum, number < minimum {
            violations.append(SchemaViolation(path: path(), message: "\(JSONValue.number(number)) is less than the minimum \(JSONValue.number(minimum))"))
        }
        if let maximum, number > maximum {
            violations.append(SchemaViolation(path: path(), message: "\(JSONValue.number(number)) is greater than the maximum \(JSONValue.number(maximum))"))
        }
        if let exclusiveMinimum, number <= exclusiveMinimum {
            violations.append(SchemaViolation(path: path(), message: "\(JSONValue.number(number)) must be greater than \(JSONValue.number(exclusiveMinimum))"))
        }
        if let exclusiveMaximum, number >= exclusiveMaximum {
            violations.append(SchemaViolation(path: path(), message: "\(JSONValue.number(number)) must be less than \(JSONValue.number(exclusiveMaximum))"))
        }
    }

    private func validateString(_ string: String, path: () -> String, into violations: inout [SchemaViolation]) {
        let length = string.unicodeScalars.count
        if let minLength, length < minLength {
            violations.append(SchemaViolation(path: path(), message: "string is shorter than \(minLength) characters"))
        }
        if let maxLength, length > maxLength {
            violations.append(SchemaViolation(path: path(), message: "string is longer than \(maxLength) characters"))
        }
        if let pattern, let regex = try? NSRegularExpression(pattern: pattern) {
            switch Self.matches(regex, string, within: Self.patternTimeLimit) {
            case true?:
                break
            case false?:
                violations.append(SchemaViolation(path: path(), message: "string does not match the pattern \(pattern)"))
            case nil:
                violations.append(SchemaViolation(
                    path: path(), message: "string could not be checked against the pattern \(pattern) within \(Self.patternTimeLimit.formattedSeconds)"))
            }
        }
    }

    private func validateArray(_ elements: [JSONValue], path: () -> String, into violations: inout [SchemaViolation]) {
        if let minItems, elements.count < minItems {
            violations.append(SchemaViolation(path: path(), message: "array has fewer than \(minItems) items"))
        }
        if let maxItems, elements.count > maxItems {
            violations.append(SchemaViolation(path: path(), message: "array has more than \(maxItems) items"))
        }
        if let items {
            for (index, element) in elements.enumerated() {
                items.validate(element, path: { "\(path())/\(index)" }, into: &violations)
            }
        }
    }

    private func validateObject(_ members: [String: JSONValue], path: () -> String, into violations: inout [SchemaViolation]) {
        for name in required where members[name] == nil {
            violations.append(SchemaViolation(path: path(), message: "missing required property '\(name)'"))
        }
        for (name, member) in members {
            let memberPath = { "\(path())/\(Self.escapePointerToken(name))" }
            if let propertySchema = self[property: name] {
                propertySchema.validate(member, path: memberPath, into: &violations)
            } else if let additionalProperties {
                additionalProperties.validate(member, path: memberPath, into: &violations)
            } else if additionalPropertiesAllowed == false {
                violations.append(SchemaViolation(path: path(), message: "unexpected property '\(name)'"))
            }
        }
    }

    static func value(_ value: JSONValue, hasKind kind: Kind) -> Bool {
        switch (kind, value) {
        case (.null, .null), (.boolean, .bool), (.number, .number), (.string, .string), (.array, .array), (.object, .object):
            true
        case (.integer, .number(let number)):
            number.rounded() == number
        default:
            false
        }
    }

    private static func describeKind(of value: JSONValue) -> String {
        if case .number(let number) = value, number.rounded() == number { return "integer" }
        return value.typeName
    }

    static func escapePointerToken(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

extension JSONSchema {
    /// The longest a `pattern` may take to check one string: 100 ms. A pattern comes from whoever
    /// wrote the schema (an MCP server, say) and the string from a model, and a pattern such as
    /// `^(a+)+$` can backtrack for longer than the universe has existed on forty characters; a
    /// check that runs out of time is a violation, so the call is refused with a reason instead of
    /// holding a thread.
    public static let patternTimeLimit: Duration = .milliseconds(100)

    /// Whether `regex` finds a match in `string`, or `nil` when it could not tell within `limit`
    /// (the engine reports its progress while it backtracks, and is stopped there).
    static func matches(_ regex: NSRegularExpression, _ string: String, within limit: Duration) -> Bool? {
        let deadline = ContinuousClock.now + limit
        var found = false
        var timedOut = false
        regex.enumerateMatches(in: string, options: [.reportProgress], range: NSRange(string.startIndex..., in: string)) { result, _, stop in
            if result != nil {
                found = true
                stop.pointee = true
            } else if ContinuousClock.now >= deadline {
                timedOut = true
                stop.pointee = true
            }
        }
        if found { return true }
        return timedOut ? nil : false
    }
}
