import KeelCore

extension Agent {
    /// This agent as a tool of another: the calling model sends it one request as `input`, and it
    /// answers with its final answer.
    ///
    /// Called in a run, it runs in the call's own scope (`call-<position>@<name>`): each of its
    /// model and tool calls is a durable step of the caller's run, counted against the caller's
    /// budget and attributed to this agent (``UsageByAgent``); a caller killed while it works
    /// resumes inside it. Its outcome, when it is not an answer, is what the caller reads.
    ///
    /// ```swift
    /// let researcher = Agent(name: "researcher", model: model, instructions: "Find facts.")
    /// let writer = Agent(name: "writer", model: model, tools: [researcher.asTool(description: "Finds facts about a subject.")])
    /// ```
    ///
    /// - Parameters:
    ///   - name: The tool's name. Default: the agent's name.
    ///   - description: What the calling model reads about when to use it.
    public func asTool(name toolName: String? = nil, description: String) -> AnyTool {
        let schema = JSONSchema.object(
            properties: [("input", .string(description: "What to ask of \(name): the whole request, with the context it needs."))], required: ["input"])
        let definition = ToolDefinition(name: toolName ?? Self.toolName(name), description: description, parameters: schema)
        return AnyTool(definition: definition, runsSteps: true) { arguments, _ in
            let input = arguments["input"]?.stringValue ?? ""
            guard let site = ToolCallSite.current else {
                throw ToolCallError(.failed, "\(definition.name) runs an agent and must be called from an agent's run")
            }
            let result = try await run(input, in: try site.scope(agent: name))
            return result.answer ?? "\(name) gave no answer: the run ended with \(result.outcome.kind)."
        }
    }

    /// `name` as a tool name: letters, digits, `_` and `-` only.
    static func toolName(_ name: String) -> String {
        let cleaned = String(name.unicodeScalars.prefix(64).map { scalar -> Character in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-") ? Character(scalar) : "_"
        })
        return cleaned.isEmpty ? "agent" : cleaned
    }
}
