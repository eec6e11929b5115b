import Foundation
import KeelCore
import KeelGraph
import KeelRuntime

/// The state of the research → draft → review graph.
@Schema
public struct ResearchReviewState: Codable, Sendable, Hashable {
    /// What the report is about.
    public var topic: String
    /// What research found, one entry per research pass (appended).
    public var notes: [String]
    /// The latest draft.
    public var draft: String
    /// The reviewer's latest score, from 0 to 1.
    public var quality: Double
    /// The reviewer's latest advice, which the next research pass follows.
    public var feedback: String
    /// How many drafts have been written.
    public var revisions: Int

    public init(topic: String) {
        self.topic = topic
        notes = []
        draft = ""
        quality = 0
        feedback = ""
        revisions = 0
    }
}

/// `keel graph run research-review`: the second seed's loop as a durable graph — research takes
/// notes, draft writes a report from them (and records it in a ledger, a side effect with an
/// idempotency key), review scores it; a score under the bar sends the draft back to research.
public struct ResearchReviewWorkflow: Workflow {
    /// The run's settings; everything needed to resume it.
    public struct Input: Codable, Sendable, Hashable {
        public var topic: String
        public var model: ModelSpec
        /// The most drafts before the graph stops, whatever the score.
        public var maxRevisions: Int
        /// The score at which a draft is accepted.
        public var qualityBar: Double
        public var controls: ControlSettings?
        /// Nodes before which the run waits for a person (`before:sN`).
        public var interruptBefore: [String]?
        /// Nodes after which the run waits for a person (`after:sN`).
        public var interruptAfter: [String]?

        public init(
            topic: String, model: ModelSpec, maxRevisions: Int = 4, qualityBar: Double = 0.8, controls: ControlSettings? = nil,
            interruptBefore: [String]? = nil, interruptAfter: [String]? = nil
        ) {
            self.topic = topic
            self.model = model
            self.maxRevisions = maxRevisions
            self.qualityBar = qualityBar
            self.controls = controls
            self.interruptBefore = interruptBefore
            self.interruptAfter = interruptAfter
        }
    }

    /// The graph's name in `keel graph` commands.
    public static let graphName = "research-review"
    public let name = "graph:research-review"
    /// Where tenant budgets are held (the store, in a durable run).
    public var ledger: any SpendLedger = InMemorySpendLedger()
    /// What the run's input may make this process do.
    public var authority = RunAuthority()
    /// The rate limiters the run's model is paced by (the store's, in a durable run).
    public var rateLimiters = RateLimiters.shared
    /// Where the draft node records its drafts (this process's setting, never the run's input);
    /// `nil` keeps them in memory.
    public var ledgerPath: String?
    /// Told about each super-step.
    public var observer: (@Sendable (GraphEvent) -> Void)?

    public init(observer: (@Sendable (GraphEvent) -> Void)? = nil) {
        self.observer = observer
    }

    public func run(_ input: Input, context: RunContext) async throws -> GraphResult<ResearchReviewState> {
        try authority.checkModel(input.model, usesMCP: false)
        let settings = input.controls ?? ControlSettings()
        let controls = settings.agentControls(ledger: ledger, alerts: authority.alertHook(for: settings))
        let model = settings.pace(try input.model.makeModel(), spec: input.model, limiters: rateLimiters)
        let graph = try Self.graph(model: model, controls: controls, ledger: LedgerTool(path: ledgerPath), input: input)
        return try await graph.run(ResearchReviewState(topic: input.topic), in: context, observer: observer)
    }

    /// The graph, its nodes calling `model` under `controls` and recording drafts in `ledger`.
    public static func graph(model: any ChatModel, controls: AgentControls, ledger: LedgerTool, input: Input) throws -> CompiledGraph<ResearchReviewState> {
        var graph = StateGraph(ResearchReviewState.self)
        graph.reduce("notes", with: .append)
        graph.addNode("research", retry: .attempts(2)) { state, node in
            var prompt = "Research: \(state.topic)\nList the facts a short report needs."
            if !state.feedback.isEmpty { prompt += "\nThe reviewer said: \(state.feedback)" }
            let reply = try await node.model(model, ChatRequest(messages: [.user(prompt)], maxOutputTokens: 120), name: "research", controls: controls)
            return try .set("notes", [bounded(reply.message.text ?? "", to: 400)])
        }
        graph.addNode("draft", retry: .attempts(2)) { state, node in
            let revision = state.revisions + 1
            let notes = state.notes.suffix(3).map { "- \($0)" }.joined(separator: "\n")
            let prompt = "Draft: \(state.topic), revision \(revision)\nWrite a short report from these notes:\n\(notes)"
            let reply = try await node.model(model, ChatRequest(messages: [.user(prompt)], maxOutputTokens: 240), name: "draft", controls: controls)
            var configuration = AgentConfiguration()
            configuration.inDoubtPolicy = .retry
            let call = ToolCall(id: "record-\(revision)", name: ledger.name, arguments: JSONValue.object(["entry": .string("draft \(revision): \(state.topic)")]).serialized())
            let recorded = try await node.tools([call], from: [AnyTool(ledger)], controls: controls, configuration: configuration)
            if let failure = recorded.first(where: \.isError) { throw LedgerFailure(description: failure.content) }
            return try StateUpdate.set("draft", bounded(reply.message.text ?? "", to: 2_000)).setting("revisions", revision)
        }
        graph.addNode("review", retry: .attempts(2)) { state, node in
            let request = ChatRequest(
                messages: [
                    .system("\(EditorModel.reviewerPrompt) Reply with JSON only: {\"quality\": a number from 0 to 1, \"feedback\": one sentence}."),
                    .user("Revision \(state.revisions)\n\(state.draft)"),
                ], maxOutputTokens: 100)
            let reply = try await node.model(model, request, name: "review", controls: controls)
            let (quality, feedback) = review(reply.message.text ?? "")
            return try StateUpdate.set("quality", quality).setting("feedback", feedback)
        }
        graph.addEdge(START, "research")
        graph.addEdge("research", "draft")
        graph.addEdge("draft", "review")
        let (bar, limit) = (input.qualityBar, input.maxRevisions)
        graph.addConditionalEdge(from: "review", targets: ["research", END]) { state in
            state.quality >= bar || state.revisions >= limit ? END : "research"
        }
        graph.interrupt(before: input.interruptBefore ?? [], after: input.interruptAfter ?? [])
        do {
            return try graph.compile(GraphOptions(recursionLimit: max(3, 3 * input.maxRevisions)))
        } catch let error as GraphError where error.code == .invalidGraph {
            throw InputError("the \(graphName) graph cannot run with these settings: \(error.problems.joined(separator: "; "))")
        }
    }

    /// The ledger refused a draft.
    struct LedgerFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// `text` cut at the last sentence end within `limit` characters.
    static func bounded(_ text: String, to limit: Int) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count > limit else { return trimmed }
        let head = String(trimmed.prefix(limit))
        guard let end = head.lastIndex(of: ".") else { return head }
        return String(head[...end])
    }

    /// The score and advice in a reviewer's reply: the first JSON object in it; a reply without
    /// one scores 0, with advice that says so.
    static func review(_ text: String) -> (Double, String) {
        guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}"), start < end,
            let value = try? JSONValue(parsing: String(text[start...end])), let quality = value["quality"]?.doubleValue, quality.isFinite
        else { return (0, "The review could not be read; write a clearer draft.") }
        return (min(1, max(0, quality)), bounded(value["feedback"]?.stringValue ?? "", to: 300))
    }
}

extension ResearchReviewWorkflow {
    /// The graph a stored run of this workflow ran, for its history, its drawing and forks: the
    /// same nodes, edges and reducers, with the offline model (nothing is called).
    public static func graph(of record: RunRecord) throws -> (graph: CompiledGraph<ResearchReviewState>, initial: ResearchReviewState) {
        guard record.workflow == ResearchReviewWorkflow().name else {
            throw InputError("run '\(record.id)' is a '\(record.workflow)' run, not a graph run of \(graphName)")
        }
        let input: Input
        do {
            input = try record.input.decode(as: Input.self)
        } catch {
            throw InputError("the input of run '\(record.id)' is not a \(graphName) input: \(error)")
        }
        return (try structure(input), ResearchReviewState(topic: input.topic))
    }

    /// The graph for `input` with the offline model, for what needs only its shape.
    public static func structure(_ input: Input = Input(topic: "", model: ModelSpec(spec: "editor"))) throws -> CompiledGraph<ResearchReviewState> {
        try graph(model: EditorModel(), controls: AgentControls(), ledger: LedgerTool(), input: input)
    }
}
