import KeelCore

/// The offline model of crews (`--model crew`): the same answers for the same request on every
/// machine, shaped by what a crew asks —
///
/// - a manager (offered `delegate_work`) delegates the task to each of its first two coworkers
///   in turn, the second with the first one's result as context, then answers with the last result;
/// - a guardrail's check (`{"allowed": …}`) allows the answer;
/// - an answer with a JSON schema gets a value built from the schema;
/// - a task asking for "N bullet points" gets N bullets about its subject; a task that starts with
///   "Review" and has a report in its context gets a short review; any other task gets a Markdown
///   report with a section for each bullet of its context (or a few of its own).
public struct CrewModel: ChatModel {
    public let provider = "test"
    public let name: String

    public init(name: String = "crew") {
        self.name = name
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let reply = answer(request)
        let text = (reply.text ?? "") + reply.toolCalls.map(\.arguments).joined()
        return ChatResponse(
            model: name, message: reply, usage: Usage(inputTokens: UsageEstimate.tokens(in: request), outputTokens: UsageEstimate.tokens(in: text)),
            finishReason: reply.toolCalls.isEmpty ? .stop : .toolCalls)
    }

    private func answer(_ request: ChatRequest) -> AssistantMessage {
        let system = request.messages.first.flatMap { if case .system(let text) = $0 { text } else { nil } } ?? ""
        if system.contains("{\"allowed\"") { return AssistantMessage(text: #"{"allowed": true, "reason": "The answer meets the rule."}"#) }
        let task = request.messages.first { if case .user = $0 { true } else { false } }?.text ?? ""
        let results = request.messages.compactMap { if case .tool(let result) = $0, !result.isError { result.content } else { nil } }
        if let delegate = request.tools.first(where: { $0.name == "delegate_work" }), let call = delegation(task, delegate: delegate, results: results) {
            return call
        }
        if case .jsonSchema(_, let schema, _) = request.responseFormat { return AssistantMessage(text: Self.value(of: schema, depth: 0).serialized()) }
        if let last = results.last, request.tools.contains(where: { $0.name == "delegate_work" }) { return AssistantMessage(text: last) }
        return AssistantMessage(text: work(task, seed: request.messages.compactMap(\.text).joined(separator: "\n")))
    }

    /// A manager's next delegation, or `nil` once two are done.
    private func delegation(_ task: String, delegate: ToolDefinition, results: [String]) -> AssistantMessage? {
        let coworkers = (delegate.parameters[property: "coworker"]?.allowedValues ?? []).compactMap(\.stringValue)
        let plan = Array(coworkers.prefix(2))
        guard results.count < plan.count else { return nil }
        let coworker = plan[results.count]
        let subject = Self.subject(of: task)
        let work = results.isEmpty ? "Research \(subject): list 5 bullet points of the most relevant facts." : "Write the report on \(subject) from the research in the context."
        let arguments = JSONValue.object([
            "task": .string(work), "context": .string(results.last ?? task), "coworker": .string(coworker),
        ])
        return AssistantMessage(toolCalls: [ToolCall(id: "delegate-\(results.count + 1)", name: "delegate_work", arguments: arguments.serialized())])
    }

    /// A worker's answer.
    private func work(_ prompt: String, seed: String) -> String {
        var generator = SplitMix64(seed: FNV1a.hash(seed))
        let subject = Self.subject(of: prompt)
        if let count = Self.bulletCount(in: prompt) {
            return (1...count).map { _ in "- \(subject): \(Self.finding(&generator))" }.joined(separator: "\n")
        }
        // Asked to review a report (a context with sections): a review.
        if prompt.lowercased().hasPrefix("review"), let context = prompt.range(of: "This is the context you're working with:"),
            case let sections = prompt[context.upperBound...].components(separatedBy: "\n## ").count - 1, sections > 0
        {
            return "The report is clear and has \(sections) sections. What works: each finding stands on its own. "
                + "What is missing: sources for the figures. \(Self.finding(&generator)) Ready to publish once sources are added."
        }
        var bullets = Self.bullets(inContextOf: prompt)
        if bullets.isEmpty { bullets = (1...3).map { _ in Self.finding(&generator) } }
        var report = "# \(subject)\n"
        for (index, bullet) in bullets.prefix(10).enumerated() {
            let heading = bullet.range(of: ": ").map { String(bullet[$0.upperBound...]) } ?? bullet
            report += "\n## \(index + 1). \(heading.prefix(60))\n\n\(bullet) \(Self.finding(&generator))\n"
        }
        return report
    }

    private static let findings = [
        "adoption doubled in a year as costs fell.", "most teams now run it in production.", "the leading projects are open source.",
        "evaluation remains the hardest part.", "regulators are drafting rules for it.", "small models close the gap on narrow tasks.",
        "latency, not accuracy, limits most deployments.", "spending on it grew by a third.", "the tooling is consolidating around a few vendors.",
        "security reviews now come first.",
    ]

    private static func finding(_ generator: inout SplitMix64) -> String {
        let finding = findings[Int(generator.next() % UInt64(findings.count))]
        return finding.prefix(1).uppercased() + finding.dropFirst()
    }

    /// The task's subject: its first sentence (of its first line), cut at a word within 60
    /// characters.
    static func subject(of prompt: String) -> String {
        let line = (prompt.split(separator: "\n").first.map(String.init) ?? "The task").trimmingCharacters(in: .whitespaces)
        var sentence = line.components(separatedBy: ". ").first ?? line
        if sentence.hasSuffix(".") { sentence.removeLast() }
        guard sentence.count > 60 else { return sentence }
        let cut = sentence.prefix(60)
        return String(cut.lastIndex(of: " ").map { cut[..<$0] } ?? cut)
    }

    /// N in "N bullet points", when the prompt asks for them.
    static func bulletCount(in prompt: String) -> Int? {
        let words = prompt.lowercased().split { !$0.isLetter && !$0.isNumber }
        for (index, word) in words.enumerated() where word.hasPrefix("bullet") && index > 0 {
            return min(20, max(1, Int(words[index - 1]) ?? 5))
        }
        return nil
    }

    /// The bullet lines of the prompt's context section.
    static func bullets(inContextOf prompt: String) -> [String] {
        guard let range = prompt.range(of: "This is the context you're working with:") else { return [] }
        return prompt[range.upperBound...].split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            return text.hasPrefix("- ") ? String(text.dropFirst(2)) : nil
        }
    }

    /// A JSON value that matches `schema`, built from its types.
    static func value(of schema: JSONSchema, depth: Int) -> JSONValue {
        if let first = schema.allowedValues?.first { return first }
        guard depth < 8 else { return .null }
        switch schema.types.first {
        case .object?:
            var members: [String: JSONValue] = [:]
            for property in schema.properties { members[property.name] = value(of: property.schema, depth: depth + 1) }
            return .object(members)
        case .array?:
            return .array(schema.items.map { [value(of: $0, depth: depth + 1)] } ?? [])
        case .integer?, .number?:
            return .number(max(1, schema.minimum ?? 1))
        case .boolean?:
            return .bool(true)
        case .null?:
            return .null
        default:
            return .string(schema.description ?? "value")
        }
    }
}
