import KeelCore

/// How a field's current value and a node's update to it combine into the new value.
///
/// Declare a field's reducer once, on the graph (``StateGraph/reduce(_:with:)``); fields without
/// one are replaced. Updates of one super-step are applied in a fixed order — by node name, then
/// by branch index — so the result is the same on every run and on every replay. A reducer must be
/// a pure function of its arguments: the journal keeps updates, and replay applies them again.
public struct Reducer: Sendable, CustomStringConvertible {
    /// The reducer's name, for errors and for the graph's description.
    public let name: String
    let combine: @Sendable (_ current: JSONValue?, _ update: JSONValue) throws -> JSONValue

    /// A reducer named `name` over the JSON forms of the value and the update.
    public init(_ name: String, _ combine: @escaping @Sendable (_ current: JSONValue?, _ update: JSONValue) throws -> JSONValue) {
        self.name = name
        self.combine = combine
    }

    public var description: String { name }

    /// The new value of a field whose value is `current` (`nil` when absent) after `update`.
    public func apply(_ current: JSONValue?, _ update: JSONValue) throws -> JSONValue {
        try combine(current, update)
    }

    /// The update becomes the value (the default).
    public static let replace = Reducer("replace") { _, update in update }

    /// For an array field: the update's elements are added at the end (an update that is not an
    /// array is added as one element).
    public static let append = Reducer("append") { current, update in
        var elements = current?.arrayValue ?? []
        if case .array(let added) = update { elements.append(contentsOf: added) } else { elements.append(update) }
        return .array(elements)
    }

    /// For an array of objects: an element of the update whose `key` member equals an existing
    /// element's replaces it in place, the others are added at the end. For an object field: the
    /// update's members replace or join the current ones.
    public static func mergeByKey(_ key: String) -> Reducer {
        Reducer("merge by \(key)") { current, update in
            if case .object(let added) = update {
                var members = current?.objectValue ?? [:]
                members.merge(added) { _, new in new }
                return .object(members)
            }
            var elements = current?.arrayValue ?? []
            for element in update.arrayValue ?? [update] {
                if let id = element[key], let index = elements.firstIndex(where: { $0[key] == id }) {
                    elements[index] = element
                } else {
                    elements.append(element)
                }
            }
            return .array(elements)
        }
    }

    /// A reducer of typed values: the current value (`nil` when the field is absent) and the
    /// update, both as `Value`, combined by `combine`.
    ///
    /// ```swift
    /// graph.reduce("best", with: .custom(as: Double.self) { current, update in max(current ?? 0, update) })
    /// ```
    public static func custom<Value: Codable & Sendable>(
        _ name: String = "custom", as type: Value.Type, _ combine: @escaping @Sendable (_ current: Value?, _ update: Value) throws -> Value
    ) -> Reducer {
        Reducer(name) { current, update in
            let present = try current.flatMap { $0.isNull ? nil : try $0.decode(as: Value.self) }
            return try JSONValue(encoding: try combine(present, try update.decode(as: Value.self)))
        }
    }
}
