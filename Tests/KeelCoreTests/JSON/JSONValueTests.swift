import Testing

@testable import KeelCore

@Suite(.timeLimit(.minutes(5))) struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(parsing: #" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}, "e": ""} "#)
        #expect(value["a"] == [1, -2.5, 300, true, false, nil])
        #expect(value["b"]?["c"] == "d")
        #expect(value["e"] == "")
    }

    @Test func parsesNestedContainersRepeatedKeysAndNumbers() throws {
        let value = try JSONValue(parsing: #"{"a":[{"b":[1,{"c":[]}],"d":{}},[[],[2]]],"k":1,"k":2,"e":{"f":[3]}}"#)
        #expect(value == ["a": [["b": [1, ["c": []]], "d": [:]], [[], [2]]], "k": 2, "e": ["f": [3]]])
        let numbers = try JSONValue(parsing: "[0, -0, 7, -42, 123456789012345, 1234567890123456789, -999999999999999, 1.5e3, 2E-2]")
        #expect(numbers == [0, 0, 7, -42, 123_456_789_012_345, 1_234_567_890_123_456_789, -999_999_999_999_999, 1500, 0.02])
        #expect(try JSONValue(parsing: #"{"é":"naïve","a":"plain"}"#) == ["é": "naïve", "a": "plain"])
    }

    @Test func serializesCanonically() throws {
        let value: JSONValue = ["b": 1, "a": [true, nil, 2.5], "c": "x\"y\n\u{01}"]
        #expect(value.serialized() == #"{"a":[true,null,2.5],"b":1,"c":"x\"y\n\u0001"}"#)
        #expect(try JSONValue(parsing: value.serialized()) == value)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #""\u00e9\ud83d\ude00\/\t\\""#)
        #expect(value == .string("é😀/\t\\"))
        #expect(try JSONValue(parsing: #""\ud800x""#) == .string("\u{FFFD}x"))
    }

    @Test func keepsUnicodeAsIs() throws {
        let text = "naïve 日本語 🧪"
        let value = JSONValue.string(text)
        #expect(try JSONValue(parsing: value.serialized()) == value)
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a string key"),
        (#"{"a" 1}"#, "expected ':'"),
        ("[1,]", "unexpected character ']'"),
        ("01", "unexpected data after the JSON value"),
        ("tru", "unexpected end of input"),
        (#""abc"#, "unterminated string"),
        ("[1] x", "unexpected data after the JSON value"),
        ("1.", "invalid number"),
        (#""\x""#, "invalid escape"),
    ])
    func reportsWhereAndWhyTextIsNotJSON(input: String, reason: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: input) }
        do {
            _ = try JSONValue(parsing: input)
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test func refusesNestingDeeperThanTheLimit() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let shallow = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONValue(parsing: shallow)) != nil)
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test func writesIntegersWithoutFractionAndNonFiniteAsNull() {
        #expect(JSONValue.number(3).serialized() == "3")
        #expect(JSONValue.number(-0.5).serialized() == "-0.5")
        #expect(JSONValue.number(.infinity).serialized() == "null")
        #expect(JSONValue.number(1e20).serialized() == "1e+20")
    }

    @Test func followsJSONPointers() throws {
        let value = try JSONValue(parsing: #"{"items": [{"name": "x"}], "a/b": {"~c": 1}}"#)
        #expect(value.value(atPointer: "/items/0/name") == "x")
        #expect(value.value(atPointer: "/a~1b/~0c") == 1)
        #expect(value.value(atPointer: "/items/5") == nil)
        #expect(value.value(atPointer: "") == value)
    }

    @Test func roundTripsThroughCodable() throws {
        struct Point: Codable, Equatable { var x: Int; var label: String? }
        let value = try JSONValue(encoding: Point(x: 3, label: "p"))
        #expect(value == ["x": 3, "label": "p"])
        #expect(try value.decode(as: Point.self) == Point(x: 3, label: "p"))
    }

    @Test func prettyPrintsForPeople() {
        let value: JSONValue = ["b": [1, 2], "a": [:]]
        #expect(value.prettySerialized() == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2\n  ]\n}")
    }
}
