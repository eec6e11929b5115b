import Foundation
import KeelCore

/// A predetermined list of sections, each written by one model call, checkpointed as a durable
/// step — the pattern of a 161-section report.
///
/// Each section has a kind (introduction, analysis, summary, appendix …) whose system prompt and
/// output limit differ — routing in code, generation in the model. A section sees only the last
/// ``contextTokens`` tokens of the sections before it, counted with a real tokenizer, so the cost
/// of section 82 does not grow with sections 1 to 81. Sections are paced with a durable sleep.
///
/// ```swift
/// let pipeline = SequentialPipeline(model: model, kinds: SectionKind.reportKinds, sections: sections, tokenizer: try .cl100kBase())
/// let report = try await pipeline.run(in: context)
/// ```
public struct SequentialPipeline: Sendable {
    public var model: any ChatModel
    /// The kinds by name.
    public var kinds: [String: SectionKind]
    public var sections: [PipelineSection]
    /// How many tokens of the completed sections each section sees. Default: 2,000.
    public var contextTokens: Int
    /// The durable sleep between sections (your tier's pacing). Default: none.
    public var pace: Duration
    public var tokenizer: BPETokenizer
    /// Budgets, prices and alerts; a section that could break a budget is not written and the run
    /// fails with ``BudgetExceeded`` (resume it after raising the budget). Default: `nil`.
    public var spend: SpendControls?
    /// How a failed section is retried — the section alone, never the pipeline. Default: 3
    /// attempts on transient errors.
    public var retry: RetryPolicy = RetryPolicy()
    /// How long one section's model call may take. Default: none.
    public var modelTimeout: Duration?
    /// The clock for backoff and timeouts. Default: `ContinuousClock()`.
    public var clock: any Clock<Duration> = ContinuousClock()

    public init(
        model: any ChatModel, kinds: [SectionKind], sections: [PipelineSection], contextTokens: Int = 2_000, pace: Duration = .zero,
        tokenizer: BPETokenizer
    ) {
        self.model = model
        self.kinds = Dictionary(kinds.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.sections = sections
        self.contextTokens = contextTokens
        self.pace = pace
        self.tokenizer = tokenizer
    }

    /// Writes every section in order as durable steps (`section-1`, `pace-1`, `section-2` …) and
    /// returns them. `progress` sees each section as it is written or replayed.
    ///
    /// At the run's deadline the pipeline stops before the next section and returns what it has
    /// (``PipelineReport/stoppedAtDeadline``).
    public func run(in context: RunContext, progress: (@Sendable (PipelineProgress) -> Void)? = nil) async throws -> PipelineReport {
        var written: [SectionOutput] = []
        var usage = Usage.zero
        var caller = ModelCaller(
            model: model, spend: spend, retry: retry, modelTimeout: modelTimeout, random: { Double.random(in: 0...1) }, clock: clock,
            runID: context.runID)
        let deadline = context.deadline.map { RunDeadline($0, clock: clock) }
        for (offset, section) in sections.enumerated() {
            let number = offset + 1
            guard let kind = kinds[section.kind] else {
                throw WorkflowError(.invalidInput, "section \(number) has the kind '\(section.kind)', which the pipeline does not define")
            }
            let replaying = context.isReplaying
            if !replaying, deadline?.hasPassed == true {
                return PipelineReport(sections: written, usage: usage, model: model.identifier, stoppedAtDeadline: true)
            }
            // The context window is built only when the section is written, not on replay.
            let request = replaying
                ? ChatRequest(messages: [], maxOutputTokens: kind.maxOutputTokens)
                : ChatRequest(
                    messages: [.system(kind.systemPrompt), .user(prompt(for: section, number: number, previous: written))],
                    maxOutputTokens: kind.maxOutputTokens)
            let (response, _) = try await caller.call(request, stepName: "section-\(number)", context: context, streaming: false, observer: nil)
            let output = SectionOutput(
                number: number, title: section.title, kind: section.kind, text: response.message.text ?? "", usage: response.usage,
                finishReason: response.finishReason)
            written.append(output)
            usage += output.usage
            progress?(PipelineProgress(completed: number, total: sections.count, section: output, usage: usage, replayed: replaying))
            if number < sections.count && pace > .zero {
                try await context.sleep(for: pace, name: "pace-\(number)")
            }
        }
        return PipelineReport(sections: written, usage: usage, model: model.identifier)
    }

    /// The user message for a section: its title and the tail of what came before.
    func prompt(for section: PipelineSection, number: Int, previous: [SectionOutput]) -> String {
        let window = contextWindow(previous)
        var text = "Write section \(number) of \(sections.count): \(section.title)."
        if !window.isEmpty { text += "\n\nThe report so far ends with:\n\(window)" }
        return text
    }

    /// The last ``contextTokens`` tokens of the completed sections. Only as many sections as are
    /// needed are tokenized, newest first, so the cost does not grow with the report.
    func contextWindow(_ previous: [SectionOutput]) -> String {
        guard contextTokens > 0 else { return "" }
        var parts: [String] = []
        var tokens = 0
        for section in previous.reversed() {
            parts.insert(section.text, at: 0)
            tokens += tokenizer.count(section.text) + 1
            if tokens >= contextTokens { break }
        }
        return tokenizer.suffix(parts.joined(separator: "\n\n"), maxTokens: contextTokens)
    }
}

/// A kind of section: its system prompt and output limit.
public struct SectionKind: Sendable, Hashable, Codable {
    public var name: String
    public var systemPrompt: String
    /// The most output tokens a section of this kind may have.
    public var maxOutputTokens: Int

    public init(name: String, systemPrompt: String, maxOutputTokens: Int) {
        self.name = name
        self.systemPrompt = systemPrompt
        self.maxOutputTokens = maxOutputTokens
    }

    /// The four kinds of a report: introduction, analysis, summary and appendix.
    public static let reportKinds: [SectionKind] = [
        SectionKind(name: "introduction", systemPrompt: "You write the introduction of a business report: state the question, the scope and what the reader will learn. Plain prose, no headings.", maxOutputTokens: 600),
        SectionKind(name: "analysis", systemPrompt: "You write one analysis section of a business report: one finding, the evidence for it and what it means. Continue from the text before it without repeating it. Plain prose, no headings.", maxOutputTokens: 800),
        SectionKind(name: "summary", systemPrompt: "You write the summary of a business report: the main findings in order of importance and the recommended actions. Plain prose, no headings.", maxOutputTokens: 500),
        SectionKind(name: "appendix", systemPrompt: "You write an appendix of a business report: method, data sources and definitions, briefly. Plain prose, no headings.", maxOutputTokens: 400),
    ]
}

/// One section to write.
public struct PipelineSection: Sendable, Hashable, Codable {
    public var title: String
    /// The name of its ``SectionKind``.
    public var kind: String

    public init(title: String, kind: String) {
        self.title = title
        self.kind = kind
    }

    /// A report of `count` sections: an introduction, analyses, a summary and an appendix.
    public static func report(sections count: Int, topic: String) -> [PipelineSection] {
        guard count > 0 else { return [] }
        if count == 1 { return [PipelineSection(title: "Introduction to \(topic)", kind: "introduction")] }
        var sections = [PipelineSection(title: "Introduction to \(topic)", kind: "introduction")]
        let analyses = max(0, count - 3)
        for index in 0..<analyses { sections.append(PipelineSection(title: "Analysis \(index + 1) of \(topic)", kind: "analysis")) }
        if count >= 3 { sections.append(PipelineSection(title: "Summary and recommendations", kind: "summary")) }
        sections.append(PipelineSection(title: "Appendix: method and sources", kind: "appendix"))
        return sections
    }
}

/// A written section, as journaled: the text and the tokens it cost.
public struct SectionOutput: Sendable, Hashable, Codable {
    public var number: Int
    public var title: String
    public var kind: String
    public var text: String
    public var usage: Usage
    public var finishReason: FinishReason
}

/// Progress after each section.
public struct PipelineProgress: Sendable, Hashable {
    public var completed: Int
    public var total: Int
    public var section: SectionOutput
    /// Tokens used by the sections so far.
    public var usage: Usage
    /// Whether this section came from the journal rather than from the model.
    public var replayed: Bool
}

/// The finished pipeline: every section and the total usage.
public struct PipelineReport: Sendable, Hashable, Codable {
    public var sections: [SectionOutput]
    public var usage: Usage
    /// The model that wrote it, `provider:name`.
    public var model: String
    /// Whether the run's deadline stopped the pipeline before its last section.
    public var stoppedAtDeadline: Bool

    public init(sections: [SectionOutput], usage: Usage, model: String, stoppedAtDeadline: Bool = false) {
        self.sections = sections
        self.usage = usage
        self.model = model
        self.stoppedAtDeadline = stoppedAtDeadline
    }

    private enum CodingKeys: String, CodingKey { case sections, usage, model, stoppedAtDeadline }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sections = try container.decode([SectionOutput].self, forKey: .sections)
        usage = try container.decode(Usage.self, forKey: .usage)
        model = try container.decode(String.self, forKey: .model)
        stoppedAtDeadline = try container.decodeIfPresent(Bool.self, forKey: .stoppedAtDeadline) ?? false
    }

    /// The report as Markdown: a title, then each section under its heading.
    public func markdown(title: String) -> String {
        var text = "# \(title)\n"
        for section in sections {
            text += "\n## \(section.number). \(section.title)\n\n\(section.text)\n"
        }
        return text
    }
}
