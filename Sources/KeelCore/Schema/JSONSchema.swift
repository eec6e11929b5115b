/// A JSON Schema (the subset that model providers accept for tool parameters and structured
/// output), with a validator.
///
/// Build one by hand with the factory methods, or let the ``Schema()`` macro derive it from a Swift
/// type so that it can never drift from the code:
///
/// ```swift
/// let schema = JSONSchema.object(properties: [
///     ("city", .string(description: "City name")),
///     ("days", .integer(minimum: 1, maximum: 14)),
/// ], required: ["city"])
/// ```
///
/// Keywords this type does not model are kept in ``extra`` so that a schema read from elsewhere
/// (an MCP server, a file) goes back out unchanged.
public struct JSONSchema: Sendable, Hashable {
    /// A JSON Schema type name.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case string, number, integer, boolean, array, object, null
    }

    /// A named property of an object schema; properties keep their declaration order.
    public struct Property: Sendable, Hashable {
        public var name: String
        public var schema: JSONSchema

        public init(name: String, schema: JSONSchema) {
            self.name = name
            self.schema = schema
        }
    }

    /// The allowed types; empty means any type. More than one (such as `["string", "null"]`) is
    /// written as an array.
    public var types: [Kind]
    public var title: String?
    public var description: String?
    public var properties: [Property]
    /// Names of the properties that must be present.
    public var required: [String]
    /// `false` forbids properties not listed; `nil` leaves the keyword out.
    public var additionalPropertiesAllowed: Bool?
    private var itemsStorage: [JSONSchema]
    private var additionalPropertiesStorage: [JSONSchema]
    /// The allowed values (`enum`).
    public var allowedValues: [JSONValue]?
    public var minimum: Double?
    public var maximum: Double?
    public var exclusiveMinimum: Double?
    public var exclusiveMaximum: Double?
    public var minLength: Int?
    public var maxLength: Int?
    /// An ECMA-262 regular expression the whole string must match somewhere (as JSON Schema says).
    public var pattern: String?
    public var format: String?
    public var minItems: Int?
    public var maxItems: Int?
    /// Alternatives, of which at least one must match (`anyOf`).
    public var anyOf: [JSONSchema]
    public var defaultValue: JSONValue?
    /// Keywords not modelled above, kept as they were.
    public var extra: [String: JSONValue]

    /// The schema of each array element.
    public var items: JSONSchema? {
        get { itemsStorage.first }
        set { itemsStorage = newValue.map { [$0] } ?? [] }
    }

    /// The schema that properties not listed in ``properties`` must match.
    public var additionalProperties: JSONSchema? {
        get { additionalPropertiesStorage.first }
        set { additionalPropertiesStorage = newValue.map { [$0] } ?? [] }
    }

    /// A schema that accepts any JSON value.
    public init() {
        types = []
        properties = []
        required = []
        itemsStorage = []
        additionalPropertiesStorage = []
        anyOf = []
        extra = [:]
    }

    /// A schema of the given types.
    public init(types: [Kind], description: String? = nil) {
        self.init()
        self.types = types
        self.description = description
    }

    /// The property named `name`, if this is an object schema that lists it.
    public subscript(property name: String) -> JSONSchema? {
        properties.first { $0.name == name }?.schema
    }
}

// MARK: - Factories

extension JSONSchema {
    /// A string, optionally with length bounds, a pattern, a format or allowed values.
    public static func string(
        description: String? = nil, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil,
        format: String? = nil, allowedValues: [String]? = nil
    ) -> JSONSchema {
        var schema = JSONSchema(types: [.string], description: description)
        schema.minLength = minLength
        schema.maxLength = maxLength
        schema.pattern = pattern
        schema.format = format
        schema.allowedValues = allowedValues?.map(JSONValue.string)
        return schema
    }

    /// A number, optionally bounded.
    public static func number(description: String? = nil, minimum: Double? = nil, maximum: Double? = nil) -> JSONSchema {
        var schema = JSONSchema(types: [.number], description: description)
        schema.minimum = minimum
        schema.maximum = maximum
        return schema
    }

    /// An integer, optionally bounded.
    public static func integer(description: String? = nil, minimum: Double? = nil, maximum: Double? = nil) -> JSONSchema {
        var schema = JSONSchema(types: [.integer], description: description)
        schema.minimum = minimum
        schema.maximum = maximum
        return schema
    }

    /// `true` or `false`.
    public static func boolean(description: String? = nil) -> JSONSchema {
        JSONSchema(types: [.boolean], description: description)
    }

    /// An array whose elements match `items`.
    public static func array(of items: JSONSchema, description: String? = nil, minItems: Int? = nil, maxItems: Int? = nil) -> JSONSchema {
        var schema = JSONSchema(types: [.array], description: description)
        schema.items = items
        schema.minItems = minItems
        schema.maxItems = maxItems
        return schema
    }

    /// An object with the given properties, in order. Unlisted properties are refused unless
    /// `additionalProperties` is `true`.
    public static func object(
        description: String? = nil, properties: [(String, JSONSchema)], required: [String],
        additionalProperties: Bool = false
    ) -> JSONSchema {
        var schema = JSONSchema(types: [.object], description: description)
        schema.properties = properties.map { Property(name: $0.0, schema: $0.1) }
        schema.required = required
        schema.additionalPropertiesAllowed = additionalProperties
        return schema
    }

    /// An object whose values all match `values` (a Swift dictionary keyed by strings).
    public static func dictionary(of values: JSONSchema, description: String? = nil) -> JSONSchema {
        var schema = JSONSchema(types: [.object], description: description)
        schema.additionalProperties = values
        return schema
    }

    /// The schema of a ``SchemaRepresentable`` type, as `T.jsonSchema`.
    public static func of<T: SchemaRepresentable>(_ type: T.Type) -> JSONSchema {
        T.jsonSchema
    }

    /// One of the given values; the type is `string`, `integer` or `number` when every value has it.
    public static func enumeration(_ values: [JSONValue], description: String? = nil) -> JSONSchema {
        var schema = JSONSchema(types: [], description: description)
        if values.allSatisfy({ $0.stringValue != nil }) {
            schema.types = [.string]
        } else if values.allSatisfy({ $0.intValue != nil }) {
            schema.types = [.integer]
        } else if values.allSatisfy({ $0.doubleValue != nil }) {
            schema.types = [.number]
        }
        schema.allowedValues = values
        return schema
    }

    /// Returns this schema with the given refinements; arguments left `nil` keep their current
    /// value. The ``Field(description:minimum:maximum:exclusiveMinimum:exclusiveMaximum:minLength:maxLength:pattern:format:minItems:maxItems:)``
    /// attribute is applied through this method.
    public func refined(
        description: String? = nil, minimum: Double? = nil, maximum: Double? = nil,
        exclusiveMinimum: Double? = nil, exclusiveMaximum: Double? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, pattern: String? = nil, format: String? = nil, minItems: Int? = nil,
        maxItems: Int? = nil
    ) -> JSONSchema {
        var schema = self
        if let description { schema.description = description }
        if let minimum { schema.minimum = minimum }
        if let maximum { schema.maximum = maximum }
        if let exclusiveMinimum { schema.exclusiveMinimum = exclusiveMinimum }
        if let exclusiveMaximum { schema.exclusiveMaximum = exclusiveMaximum }
        if let minLength { schema.minLength = minLength }
        if let maxLength { schema.maxLength = maxLength }
        if let pattern { schema.pattern = pattern }
        if let format { schema.format = format }
        if let minItems { schema.minItems = minItems }
        if let maxItems { schema.maxItems = maxItems }
        return schema
    }
}
