import KeelCore
import KeelRuntime

/// CrewAI's delegation tools: `delegate_work` and `ask_question`, restricted to a member's
/// coworkers. The coworker works in the call's own scope (`call-<n>@<coworker>`), so its steps are
/// durable steps of the run, attributed to it.
enum Delegation {
    static let delegateWork = "delegate_work"
    static let askQuestion = "ask_question"

    static func tools(coworkers: [CrewAgent], run: CrewRun) -> [AnyTool] {
        let keys = coworkers.map(\.key)
        let roster = coworkers.map { "\($0.key) (\($0.role))" }.joined(separator: ", ")
        func definition(_ name: String, _ description: String, _ field: String, _ fieldDescription: String) -> ToolDefinition {
            ToolDefinition(
                name: name, description: description,
                parameters: .object(
                    properties: [
                        (field, .string(description: fieldDescription)),
                        ("context", .string(description: "Everything the coworker needs to know: they know nothing about the task but what you write here.")),
                        ("coworker", .string(description: "Who: one of \(roster).", allowedValues: keys)),
                    ], required: [field, "context", "coworker"]))
        }
        let delegate = definition(
            delegateWork, "Hand a part of the work to a coworker, who does it and returns the result. Coworkers: \(roster).", "task",
            "The work to do, stated completely.")
        let ask = definition(askQuestion, "Ask a coworker a question and get the answer. Coworkers: \(roster).", "question", "The question.")
        return [
            AnyTool(definition: delegate, runsSteps: true) { arguments, _ in
                try await call(arguments, request: arguments["task"]?.stringValue ?? "", coworkers: coworkers, run: run)
            },
            AnyTool(definition: ask, runsSteps: true) { arguments, _ in
                try await call(arguments, request: arguments["question"]?.stringValue ?? "", coworkers: coworkers, run: run)
            },
        ]
    }

    /// Runs the coworker the arguments name on `request`, in the call's scope.
    private static func call(_ arguments: JSONValue, request: String, coworkers: [CrewAgent], run: CrewRun) async throws -> String {
        let asked = (arguments["coworker"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let coworker = coworkers.first(where: { $0.key == asked || $0.role.caseInsensitiveCompare(asked) == .orderedSame }) else {
            throw ToolCallError(
                .invalidArguments, "\(asked.isEmpty ? "no coworker" : "'\(asked)'") is not a coworker of yours; choose one of: \(coworkers.map(\.key).joined(separator: ", ")).")
        }
        guard let site = ToolCallSite.current else { throw ToolCallError(.failed, "delegation must be called from a crew's run") }
        let context = arguments["context"]?.stringValue ?? ""
        // A coworker does the work itself: it is not given delegation tools of its own.
        let agent = run.makeAgent(coworker, delegatesTo: [])
        let prompt = "\(request)\n\nThis is the context you're working with:\n\(context)"
        let result = try await agent.run(prompt, in: try site.scope(agent: coworker.key))
        return result.answer ?? "\(coworker.key) could not answer: its run ended with \(result.outcome.kind)."
    }
}
