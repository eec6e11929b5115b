import KeelCore

/// What a node returns: new values for some fields of the graph's state. Each value is combined
/// with the field's current value by the field's ``Reducer`` (``Reducer/replace`` unless the
/// graph declares another), so an `append` field receives the elements to add, not the whole list.
///
/// ```swift
/// return try StateUpdate.set("draft", text).setting("revisions", state.revisions + 1)
/// ```
///
/// Fields are named as the state encodes them (its `CodingKeys`); a name the state does not have
/// fails the super-step with a ``GraphError`` that names the node.
public struct StateUpdate: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The new values by field name.
    public private(set) var fields: [String: JSONValue]

    /// An update that changes nothing.
    public init() { fields = [:] }

    /// An update of `fields`, as JSON.
    public init(_ fields: [String: JSONValue]) { self.fields = fields }

    /// An update that changes nothing.
    public static var none: StateUpdate { StateUpdate() }

    /// An update setting `field` to `value` (through the field's reducer).
    public static func set(_ field: String, _ value: some Encodable) throws -> StateUpdate {
        try StateUpdate().setting(field, value)
    }

    /// This update with `field` set to `value` too.
    public func setting(_ field: String, _ value: some Encodable) throws -> StateUpdate {
        var copy = self
        try copy.set(field, value)
        return copy
    }

    /// Sets `field` to `value` (through the field's reducer).
    public mutating func set(_ field: String, _ value: some Encodable) throws {
        fields[field] = try JSONValue(encoding: value)
    }

    /// Whether the update changes nothing.
    public var isEmpty: Bool { fields.isEmpty }

    public var description: String { JSONValue.object(fields).serialized() }

    public init(from decoder: any Decoder) throws {
        fields = try [String: JSONValue](from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try fields.encode(to: encoder)
    }
}

/// How a person resumes a graph that waits at an interrupt, or edits the state of a forked run:
/// the payload of the signal.
///
/// As JSON: `{"value": …}` answers an ``NodeContext/interrupt(_:as:)``; `{"update": {field: value}}`
/// changes fields through their reducers, as if a node had returned it; `{"state": {…}}` replaces
/// the whole state. Any other payload is taken as the value itself.
public struct GraphResume: Sendable, Hashable, Codable {
    /// The answer to an interrupt raised inside a node.
    public var value: JSONValue?
    /// Fields to change through their reducers.
    public var update: StateUpdate?
    /// A new state, replacing the one the graph has.
    public var state: JSONValue?

    public init(value: JSONValue? = nil, update: StateUpdate? = nil, state: JSONValue? = nil) {
        self.value = value
        self.update = update
        self.state = state
    }

    private enum CodingKeys: String, CodingKey { case value, update, state }

    public init(from decoder: any Decoder) throws {
        let payload = try JSONValue(from: decoder)
        guard case .object(let members) = payload, !members.isEmpty, Set(members.keys).isSubset(of: ["value", "update", "state"]) else {
            self.init(value: payload)
            return
        }
        let update: StateUpdate?
        if case .object(let fields)? = members["update"] { update = StateUpdate(fields) } else { update = nil }
        guard members["update"] == nil || update != nil else {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [CodingKeys.update], debugDescription: "an update must be a JSON object"))
        }
        self.init(value: members["value"], update: update, state: members["state"])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(value, forKey: .value)
        try container.encodeIfPresent(update, forKey: .update)
        try container.encodeIfPresent(state, forKey: .state)
    }
}
