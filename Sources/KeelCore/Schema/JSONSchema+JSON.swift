extension JSONSchema {
    /// The schema as a JSON document, as sent to a provider.
    public var jsonValue: JSONValue {
        var object = extra
        switch types.count {
        case 0: break
        case 1: object["type"] = .string(types[0].rawValue)
        default: object["type"] = .array(types.map { .string($0.rawValue) })
        }
        if let title { object["title"] = .string(title) }
        if let description { object["description"] = .string(description) }
        if !properties.isEmpty || types == [.object] && additionalProperties == nil {
            object["properties"] = .object(Dictionary(properties.map { ($0.name, $0.schema.jsonValue) }, uniquingKeysWith: { $1 }))
        }
        if !required.isEmpty { object["required"] = .array(required.map(JSONValue.string)) }
        if let additionalProperties {
            object["additionalProperties"] = additionalProperties.jsonValue
        } else if let additionalPropertiesAllowed {
            object["additionalProperties"] = .bool(additionalPropertiesAllowed)
        }
        if let items { object["items"] = items.jsonValue }
        if let allowedValues { object["enum"] = .array(allowedValues) }
        if let minimum { object["minimum"] = .number(minimum) }
        if let maximum { object["maximum"] = .number(maximum) }
        if let exclusiveMinimum { object["exclusiveMinimum"] = .number(exclusiveMinimum) }
        if let exclusiveMaximum { object["exclusiveMaximum"] = .number(exclusiveMaximum) }
        if let minLength { object["minLength"] = .number(Double(minLength)) }
        if let maxLength { object["maxLength"] = .number(Double(maxLength)) }
        if let pattern { object["pattern"] = .string(pattern) }
        if let format { object["format"] = .string(format) }
        if let minItems { object["minItems"] = .number(Double(minItems)) }
        if let maxItems { object["maxItems"] = .number(Double(maxItems)) }
        if !anyOf.isEmpty { object["anyOf"] = .array(anyOf.map(\.jsonValue)) }
        if let defaultValue { object["default"] = defaultValue }
        return .object(object)
    }

    /// Reads a schema from a JSON document (from an MCP server or a file). Keywords this type does
    /// not model are kept in ``extra``; a keyword of the wrong JSON type is kept there too rather
    /// than dropped. `true` is the schema that accepts anything.
    public init(jsonValue: JSONValue) {
        self.init()
        guard case .object(var object) = jsonValue else { return }
        if let type = object["type"] {
            switch type {
            case .string(let name):
                if let kind = Kind(rawValue: name) {
                    types = [kind]
                    object["type"] = nil
                }
            case .array(let names):
                let kinds = names.compactMap { $0.stringValue.flatMap(Kind.init(rawValue:)) }
                if kinds.count == names.count {
                    types = kinds
                    object["type"] = nil
                }
            default: break
            }
        }
        func take<T>(_ key: String, _ transform: (JSONValue) -> T?) -> T? {
            guard let raw = object[key], let value = transform(raw) else { return nil }
            object[key] = nil
            return value
        }
        title = take("title") { $0.stringValue }
        description = take("description") { $0.stringValue }
        if let members = take("properties", { $0.objectValue }) {
            properties = members.keys.sorted().map { Property(name: $0, schema: JSONSchema(jsonValue: members[$0] ?? .null)) }
        }
        required = take("required") { value in value.arrayValue?.compactMap(\.stringValue) } ?? []
        if let raw = object["additionalProperties"] {
            if let flag = raw.boolValue {
                additionalPropertiesAllowed = flag
            } else {
                additionalProperties = JSONSchema(jsonValue: raw)
            }
            object["additionalProperties"] = nil
        }
        items = take("items") { $0.objectValue != nil ? JSONSchema(jsonValue: $0) : nil }
        allowedValues = take("enum") { $0.arrayValue }
        minimum = take("minimum") { $0.doubleValue }
        maximum = take("maximum") { $0.doubleValue }
        exclusiveMinimum = take("exclusiveMinimum") { $0.doubleValue }
        exclusiveMaximum = take("exclusiveMaximum") { $0.doubleValue }
        minLength = take("minLength") { $0.intValue }
        maxLength = take("maxLength") { $0.intValue }
        pattern = take("pattern") { $0.stringValue }
        format = take("format") { $0.stringValue }
        minItems = take("minItems") { $0.intValue }
        maxItems = take("maxItems") { $0.intValue }
        anyOf = take("anyOf") { $0.arrayValue?.map(JSONSchema.init(jsonValue:)) } ?? []
        defaultValue = take("default") { $0 }
        extra = object
    }
}

extension JSONSchema: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(jsonValue: try JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }
}
