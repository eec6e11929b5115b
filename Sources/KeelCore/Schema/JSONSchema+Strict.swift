extension JSONSchema {
    /// Whether a provider's strict mode accepts this schema (OpenAI's structured outputs and strict
    /// tools): every object lists all its properties as required and allows no others, and no
    /// object is a dictionary of free keys — here and in every nested schema.
    public var allowsStrictMode: Bool {
        if types.contains(.object) || !properties.isEmpty {
            guard additionalPropertiesAllowed == false, additionalProperties == nil,
                Set(required) == Set(properties.map(\.name))
            else { return false }
        }
        return properties.allSatisfy(\.schema.allowsStrictMode) && (items?.allowsStrictMode ?? true) && anyOf.allSatisfy(\.allowsStrictMode)
    }
}
