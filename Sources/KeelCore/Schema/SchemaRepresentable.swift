import Foundation

/// A type that knows its JSON Schema.
///
/// Don't write the conformance by hand: attach ``Schema()`` to a struct or an enum and the macro
/// derives ``jsonSchema`` from the declaration. The standard scalar types, arrays, optionals,
/// string-keyed dictionaries, `Date`, `URL`, `UUID` and ``JSONValue`` conform already.
public protocol SchemaRepresentable {
    /// The JSON Schema that the JSON form of this type satisfies.
    static var jsonSchema: JSONSchema { get }
}

/// Derives a JSON Schema for a struct (an object with one property per stored property) or an
/// enum with `String` or `Int` raw values (its raw values), and conforms the type to
/// ``SchemaRepresentable``.
///
/// Doc comments become descriptions; `Optional` properties are not required; property types must
/// be ``SchemaRepresentable`` themselves (so nested types need `@Schema` too), which the compiler
/// checks. Add bounds with ``Field(description:minimum:maximum:exclusiveMinimum:exclusiveMaximum:minLength:maxLength:pattern:format:minItems:maxItems:)``.
///
/// ```swift
/// /// Look up the weather.
/// @Schema
/// struct WeatherArguments: Decodable {
///     /// The city, such as "Lisbon".
///     var city: String
///     @Field(minimum: 1, maximum: 14)
///     var days: Int?
///     var unit: TemperatureUnit
/// }
///
/// @Schema
/// enum TemperatureUnit: String, Decodable { case celsius, fahrenheit }
/// ```
@attached(extension, conformances: SchemaRepresentable, names: named(jsonSchema))
public macro Schema() = #externalMacro(module: "KeelMacros", type: "SchemaMacro")

/// Refines the schema that ``Schema()`` derives for one stored property. Arguments left out keep
/// what the type says; `description` takes precedence over the doc comment.
@attached(peer)
public macro Field(
    description: String? = nil, minimum: Double? = nil, maximum: Double? = nil,
    exclusiveMinimum: Double? = nil, exclusiveMaximum: Double? = nil, minLength: Int? = nil,
    maxLength: Int? = nil, pattern: String? = nil, format: String? = nil, minItems: Int? = nil,
    maxItems: Int? = nil
) = #externalMacro(module: "KeelMacros", type: "FieldMacro")

extension String: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .string() }
}

extension Bool: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .boolean() }
}

extension Double: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .number() }
}

extension Float: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .number() }
}

extension Decimal: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .number() }
}

extension Int: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .integer() }
}

extension Int32: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .integer(minimum: Double(Int32.min), maximum: Double(Int32.max)) }
}

extension Int64: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .integer() }
}

extension UInt: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .integer(minimum: 0) }
}

extension UInt32: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .integer(minimum: 0, maximum: Double(UInt32.max)) }
}

extension UInt64: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .integer(minimum: 0) }
}

extension Array: SchemaRepresentable where Element: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .array(of: Element.jsonSchema) }
}

extension Set: SchemaRepresentable where Element: SchemaRepresentable {
    public static var jsonSchema: JSONSchema {
        var schema = JSONSchema.array(of: Element.jsonSchema)
        schema.extra["uniqueItems"] = true
        return schema
    }
}

extension Optional: SchemaRepresentable where Wrapped: SchemaRepresentable {
    /// The wrapped type's schema with `null` allowed too.
    public static var jsonSchema: JSONSchema {
        var schema = Wrapped.jsonSchema
        if !schema.types.isEmpty, !schema.types.contains(.null) { schema.types.append(.null) }
        return schema
    }
}

extension Dictionary: SchemaRepresentable where Key == String, Value: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .dictionary(of: Value.jsonSchema) }
}

extension JSONValue: SchemaRepresentable {
    /// Any JSON value.
    public static var jsonSchema: JSONSchema { JSONSchema() }
}

extension Date: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .string(format: "date-time") }
}

extension URL: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .string(format: "uri") }
}

extension UUID: SchemaRepresentable {
    public static var jsonSchema: JSONSchema { .string(format: "uuid") }
}
