import KeelCore
import Yams

/// A YAML file of a crew definition, read with the line of every node.
struct YAMLFile {
    let name: String
    let text: String

    init(_ name: String, _ text: String) {
        self.name = name
        self.text = text
    }

    /// The document's root, `nil` when the file is empty. Throws ``CrewError`` with the line of a
    /// syntax error.
    func root() throws -> YAMLEntry? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw CrewError("\(name): not valid YAML: \(error)")
        }
        guard let node else { return nil }
        return YAMLEntry(file: name, key: String(name.prefix { $0 != "." }), node: node)
    }

    /// The top-level entries (`researcher:`, `research_task:`), in file order.
    func entries() throws -> [YAMLEntry] {
        guard let root = try root() else { return [] }
        guard let mapping = root.node.mapping else { throw CrewError("\(name):\(root.line): the file must be a mapping of names to entries") }
        var seen: Set<String> = []
        return try mapping.map { pair in
            guard let key = pair.key.string, !key.isEmpty else { throw CrewError("\(name):\(line(pair.key)): an entry's name must be text") }
            guard seen.insert(key).inserted else { throw CrewError("\(name):\(line(pair.key)): \(key) is defined twice") }
            return YAMLEntry(file: name, key: key, node: pair.value, keyLine: line(pair.key))
        }
    }

    private func line(_ node: Node) -> Int { node.mark?.line ?? 0 }
}

/// One entry of a crew file: its name and its fields.
struct YAMLEntry {
    let file: String
    let key: String
    let node: Node
    var keyLine: Int?

    var line: Int { keyLine ?? node.mark?.line ?? 0 }

    /// The entry's fields, after checking it is a mapping; fields that are neither `known` nor
    /// CrewAI fields Keel ignores are errors.
    func fields(known: Set<String>) throws -> YAMLFields {
        guard let mapping = node.mapping else { throw CrewError("\(file):\(line): \(key) must be a mapping of fields") }
        var values: [String: Node] = [:]
        var locations: [String: CrewDefinition.Location] = ["": CrewDefinition.Location(file: file, line: line)]
        for pair in mapping {
            let field = pair.key.string ?? ""
            let fieldLine = pair.key.mark?.line ?? line
            if known.contains(field) {
                values[field] = pair.value
                locations[field] = CrewDefinition.Location(file: file, line: fieldLine)
            } else if !CrewDefinition.ignoredFields.contains(field) {
                throw CrewError("\(file):\(fieldLine): \(key).\(field): unknown field (known: \(known.sorted().joined(separator: ", ")))")
            }
        }
        return YAMLFields(file: file, owner: key, values: values, locations: locations)
    }
}

/// The fields of an entry, read by type with errors that name the file, the line and the field.
struct YAMLFields {
    let file: String
    let owner: String
    let values: [String: Node]
    let locations: [String: CrewDefinition.Location]

    func error(_ field: String, _ problem: String) -> CrewError {
        CrewError("\(file):\((locations[field] ?? locations[""])?.line ?? 0): \(owner).\(field): \(problem)")
    }

    /// A required text field (folded `>` text is trimmed of its final newline).
    func text(_ field: String) throws -> String {
        guard let text = try optionalText(field) else { throw error(field, "missing; it is required") }
        return text
    }

    func optionalText(_ field: String) throws -> String? {
        guard let node = values[field], node.null == nil else { return nil }
        guard let scalar = node.scalar else { throw error(field, "must be text") }
        let text = scalar.string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw error(field, "must not be empty") }
        return text
    }

    func flag(_ field: String) throws -> Bool? {
        guard let node = values[field], node.null == nil else { return nil }
        guard let value = node.bool else { throw error(field, "must be true or false") }
        return value
    }

    func integer(_ field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let node = values[field], node.null == nil else { return nil }
        guard let value = node.int, range.contains(value) else { throw error(field, "must be a whole number from \(range.lowerBound) to \(range.upperBound)") }
        return value
    }

    /// A list of names (a single name counts as a list of one).
    func names(_ field: String) throws -> [String]? {
        guard let node = values[field], node.null == nil else { return nil }
        if let scalar = node.scalar { return [scalar.string] }
        guard let sequence = node.sequence else { throw error(field, "must be a list of names") }
        return try sequence.map { item in
            guard let name = item.scalar?.string, !name.isEmpty else { throw error(field, "must be a list of names") }
            return name
        }
    }

    /// A field as JSON (for a schema written in YAML).
    func json(_ field: String) throws -> JSONValue? {
        guard let node = values[field], node.null == nil else { return nil }
        return try Self.json(node, depth: 0) ?? { throw error(field, "must be a JSON Schema written as YAML") }()
    }

    private static func json(_ node: Node, depth: Int) throws -> JSONValue? {
        guard depth < 32 else { return nil }
        switch node {
        case .scalar(let scalar):
            if node.null != nil { return .null }
            if let value = node.bool, scalar.style == .plain { return .bool(value) }
            if let value = node.int, scalar.style == .plain { return .number(Double(value)) }
            if let value = node.float, scalar.style == .plain { return .number(value) }
            return .string(scalar.string)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence {
                guard let value = try json(item, depth: depth + 1) else { return nil }
                items.append(value)
            }
            return .array(items)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for pair in mapping {
                guard let key = pair.key.string, let value = try json(pair.value, depth: depth + 1) else { return nil }
                members[key] = value
            }
            return .object(members)
        case .alias:
            return nil
        }
    }
}
