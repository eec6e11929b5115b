import ArgumentParser

/// The `name=value` values of a repeatable option (`--input topic=tides`) as a dictionary; the
/// value may hold `=`, the name may not be empty.
func keyValuePairs(_ values: [String], option: String) throws -> [String: String] {
    var pairs: [String: String] = [:]
    for pair in values {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("\(option) takes name=value, not '\(pair)'")
        }
        pairs[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return pairs
}
