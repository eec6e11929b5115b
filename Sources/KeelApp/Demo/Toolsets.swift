import Foundation
import KeelCore

/// The toolsets `--tools` (and an agent run's input) can name: `calculator`.
public enum Toolsets {
    /// The names of the toolsets.
    public static let names = ["calculator"]

    /// The tools of a comma-separated list of toolset names.
    public static func tools(named list: String?) throws -> [AnyTool] {
        guard let list, !list.isEmpty else { return [] }
        var tools: [AnyTool] = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            switch name {
            case "calculator": tools += Calculator.tools
            default: throw InputError("unknown toolset '\(name)': available toolsets are \(names.joined(separator: ", "))")
            }
        }
        return tools
    }
}
