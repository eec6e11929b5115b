import Testing

@testable import KeelCore

@Suite(.timeLimit(.minutes(5))) struct JSONSchemaValidationTests {
    let schema = JSONSchema.object(
        properties: [
            ("name", .string(minLength: 2, maxLength: 5)),
            ("count", .integer(minimum: 1, maximum: 10)),
            ("ratio", .number(minimum: 0, maximum: 1)),
            ("tags", .array(of: .string(), minItems: 1, maxItems: 2)),
            ("unit", .string(allowedValues: ["celsius", "fahrenheit"])),
            ("code", .string(pattern: "^[A-Z]{3}$")),
        ],
        required: ["name", "count"])

    @Test func acceptsAValidDocument() throws {
        let value = try JSONValue(parsing: #"{"name": "abc", "count": 3, "ratio": 0.5, "tags": ["x"], "unit": "celsius", "code": "EUR"}"#)
        #expect(schema.validate(value).isEmpty)
    }

    @Test(arguments: [
        (#"{"count": 3}"#, "missing required property 'name'"),
        (#"{"name": "abc", "count": 3.5}"#, "/count: expected integer, got number"),
        (#"{"name": "abc", "count": "3"}"#, "/count: expected integer, got string"),
        (#"{"name": "abc", "count": 11}"#, "/count: 11 is greater than the maximum 10"),
        (#"{"name": "abc", "count": 0}"#, "/count: 0 is less than the minimum 1"),
        (#"{"name": "a", "count": 1}"#, "/name: string is shorter than 2 characters"),
        (#"{"name": "abcdef", "count": 1}"#, "/name: string is longer than 5 characters"),
        (#"{"name": "abc", "count": 1, "tags": []}"#, "/tags: array has fewer than 1 items"),
        (#"{"name": "abc", "count": 1, "tags": ["a", 2]}"#, "/tags/1: expected string, got integer"),
        (#"{"name": "abc", "count": 1, "unit": "kelvin"}"#, #"/unit: "kelvin" is not one of "celsius", "fahrenheit""#),
        (#"{"name": "abc", "count": 1, "code": "eur"}"#, "/code: string does not match the pattern ^[A-Z]{3}$"),
        (#"{"name": "abc", "count": 1, "extra": true}"#, "unexpected property 'extra'"),
        (#"[1]"#, "expected object, got array"),
    ])
    func reportsEachViolation(input: String, expected: String) throws {
        let violations = schema.validate(try JSONValue(parsing: input))
        #expect(violations.map(\.description) == [expected])
    }

    @Test func integerAcceptsWholeNumbersWrittenWithAFraction() throws {
        #expect(JSONSchema.integer().validate(try JSONValue(parsing: "2.0")).isEmpty)
    }

    @Test func anyOfNeedsOneMatchingAlternative() {
        var schema = JSONSchema()
        schema.anyOf = [.string(), .integer()]
        #expect(schema.validate("x").isEmpty)
        #expect(schema.validate(3).isEmpty)
        #expect(schema.validate(true).map(\.message) == ["matches none of the 2 allowed forms"])
    }

    @Test func optionalTypesAcceptNull() {
        #expect(Optional<Int>.jsonSchema.validate(nil).isEmpty)
        #expect(Optional<Int>.jsonSchema.validate(2).isEmpty)
        #expect(!Int.jsonSchema.validate(nil).isEmpty)
    }

    @Test func dictionaryValuesAreChecked() {
        let schema = [String: Int].jsonSchema
        #expect(schema.validate(["a": 1]).isEmpty)
        #expect(schema.validate(["a": "x"]).map(\.description) == ["/a: expected integer, got string"])
    }

    @Test func roundTripsThroughJSONKeepingUnknownKeywords() throws {
        let text = #"{"type":"object","properties":{"a":{"type":"string","x-custom":1}},"required":["a"],"additionalProperties":false,"$defs":{}}"#
        let schema = JSONSchema(jsonValue: try JSONValue(parsing: text))
        #expect(schema.types == [.object])
        #expect(schema[property: "a"]?.extra["x-custom"] == 1)
        #expect(schema.jsonValue == (try JSONValue(parsing: text)))
    }

    /// A pattern that backtracks catastrophically (as an MCP server may supply) on a string a model
    /// wrote: the check gives up within its time limit and the arguments are refused.
    @Test func aCatastrophicPatternIsAViolationNotAHang() throws {
        let schema = JSONSchema.object(properties: [("name", .string(pattern: "^(a+)+$"))], required: ["name"])
        let started = ContinuousClock.now
        let violations = schema.validate(["name": .string(String(repeating: "a", count: 40) + "!")])
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(violations.count == 1)
        #expect(violations.first?.message.contains("could not be checked") == true, "\(violations)")
        #expect(schema.validate(["name": "aaaa"]).isEmpty)
        #expect(schema.validate(["name": "aab!"]).first?.message.contains("does not match") == true)
    }
}
