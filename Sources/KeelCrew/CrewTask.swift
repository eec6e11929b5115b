import KeelCore
import KeelRuntime

/// A piece of a crew's work, as in CrewAI: what to do, what the answer must be, who does it and
/// what it builds on.
public struct CrewTask: Sendable {
    /// Its name (its key in `tasks.yaml`): what `context` lists and reports show.
    public var name: String
    /// What to do; `{name}` is filled from the inputs.
    public var description: String
    /// What the answer must be.
    public var expectedOutput: String
    /// The key of the agent that does it; `nil` in a hierarchical crew, where the manager chooses.
    public var agent: String?
    /// The tasks whose outputs it reads; `nil` reads every earlier task's output (CrewAI's default).
    public var context: [String]?
    /// A JSON Schema the answer must match (it is then also kept as JSON); `nil` takes text.
    public var outputSchema: JSONSchema?
    /// A check of the answer that may send it back with a reason (``OutputGuardrail``); its
    /// ``OutputGuardrail/maxRetries`` bound the retries.
    public var guardrail: OutputGuardrail?
    /// Whether a person reviews the answer before the crew goes on: the run waits for the signal
    /// named in ``CrewEvent/awaitingReview(task:signal:)``, whose payload accepts the answer or
    /// sends it back with feedback (``TaskReview``). Needs a durable run.
    public var humanInput: Bool
    /// A file the answer is written to, relative to the crew's output directory.
    public var outputFile: String?
    /// Whether it runs at the same time as the asynchronous tasks next to it (the first
    /// synchronous task after them waits for all of them).
    public var isAsync: Bool

    public init(
        name: String, description: String, expectedOutput: String, agent: String? = nil, context: [String]? = nil, outputSchema: JSONSchema? = nil,
        guardrail: OutputGuardrail? = nil, humanInput: Bool = false, outputFile: String? = nil, isAsync: Bool = false
    ) {
        self.name = name
        self.description = description
        self.expectedOutput = expectedOutput
        self.agent = agent
        self.context = context
        self.outputSchema = outputSchema
        self.guardrail = guardrail
        self.humanInput = humanInput
        self.outputFile = outputFile
        self.isAsync = isAsync
    }

    /// The prompt the agent gets: the description, the expected output, and the context.
    func prompt(context: String) -> String {
        var prompt = "\(description)\n\nThis is the expected criteria for your final answer: \(expectedOutput)\n"
        prompt += "You MUST return the actual complete content as the final answer, not a summary."
        if outputSchema != nil { prompt += "\nAnswer with JSON only, matching the schema you were given." }
        if !context.isEmpty { prompt += "\n\nThis is the context you're working with:\n\(context)" }
        return prompt
    }
}

/// A person's decision on a task's answer (the payload of its review signal).
public struct TaskReview: Sendable, Hashable, Codable {
    /// `true` accepts the answer; `false` (or feedback) sends it back.
    public var approved: Bool?
    /// What to change; with it, the agent answers again.
    public var feedback: String?

    public init(approved: Bool? = nil, feedback: String? = nil) {
        self.approved = approved
        self.feedback = feedback
    }

    /// Whether the answer is accepted.
    public var accepts: Bool { approved ?? (feedback ?? "").isEmpty }
}

/// A task's result.
public struct TaskOutput: Sendable, Hashable, Codable {
    public var task: String
    /// The agent that answered it (the manager, in a hierarchical crew).
    public var agent: String
    /// The answer as text.
    public var raw: String
    /// The answer as JSON, for a task with an output schema.
    public var json: JSONValue?
    /// How the agent's run ended (``AgentOutcome/kind``): `completed` unless it was stopped.
    public var outcome: String
    /// Why it was stopped, when it was.
    public var problem: String?
    /// How many times a person sent the answer back.
    public var revisions: Int

    public var isCompleted: Bool { outcome == "completed" }
}
