import FuzzSupport
import KeelCore

/// Schema validation with a schema and a value from the input (split at the first newline):
/// any schema an MCP server could send, with any value a model could write, is validated without
/// a crash; a pattern that backtracks without end is cut off by its time limit.
@_cdecl("FuzzSchema_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        let input = bytes(data, count)
        let split = input.firstIndex(of: UInt8(ascii: "\n")) ?? input.endIndex
        let schemaText = input[..<split]
        let valueText = split < input.endIndex ? input[input.index(after: split)...] : []
        // The schema is JSON, or a pattern for a string value.
        let schema: JSONSchema
        if let json = try? JSONValue(parsing: schemaText), json.objectValue != nil {
            schema = JSONSchema(jsonValue: json)
        } else {
            schema = JSONSchema(jsonValue: ["type": "string", "pattern": .string(String(decoding: schemaText, as: UTF8.self))])
        }
        let value = (try? JSONValue(parsing: valueText)) ?? .string(String(decoding: valueText, as: UTF8.self))
        _ = schema.validate(value)
        return 0
    }
}
