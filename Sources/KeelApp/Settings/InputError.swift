/// A run's input that this process cannot act on: an unknown toolset, a tool named for approval
/// that the agent does not have, an MCP server written wrongly. The run fails with the reason.
public struct InputError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
