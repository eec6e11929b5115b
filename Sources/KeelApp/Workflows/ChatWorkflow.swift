import Foundation
import KeelCore
import KeelRuntime

/// `keel chat --session ID`: one turn of a durable conversation, as a durable run.
///
/// The run's id is the session's and the turn's (`chat:<session>:<turn>`), so a turn killed midway
/// is resumed — not asked again — by the next `keel chat` on the session, which finds the session
/// held by that very run.
public struct ChatWorkflow: Workflow {
    public struct Input: Codable, Sendable, Hashable {
        public var session: String
        public var scope: MemoryScope
        public var prompt: String
        public var model: ModelSpec
        public var instructions: String?
        /// The window in tokens; `nil` sends the whole conversation.
        public var windowTokens: Int?
        /// The model that folds the turns leaving the window into the summary.
        public var summarizer: ModelSpec?
        public var controls: ControlSettings?

        public init(
            session: String, scope: MemoryScope, prompt: String, model: ModelSpec, instructions: String? = nil, windowTokens: Int? = nil,
            summarizer: ModelSpec? = nil, controls: ControlSettings? = nil
        ) {
            self.session = session
            self.scope = scope
            self.prompt = prompt
            self.model = model
            self.instructions = instructions
            self.windowTokens = windowTokens
            self.summarizer = summarizer
            self.controls = controls
        }
    }

    public let name = "chat"
    /// Where sessions are kept (the store, in a durable run).
    public var sessions: (any SessionStore)?
    public var ledger: any SpendLedger = InMemorySpendLedger()
    public var authority = RunAuthority()
    public var rateLimiters = RateLimiters.shared

    public init() {}

    /// The run id of turn `turn` of `session` in `scope`.
    public static func runID(session: String, scope: MemoryScope, turn: Int) -> String {
        "chat:\(SHA256.hexDigest("\(scope)\u{1}\(session)").prefix(12)):\(session.prefix(60)):\(turn)"
    }

    public func run(_ input: Input, context: RunContext) async throws -> AgentRunResult {
        guard let sessions else { throw InputError("this store keeps no sessions") }
        try authority.checkModel(input.model, usesMCP: false)
        let settings = input.controls ?? ControlSettings()
        let controls = settings.agentControls(ledger: ledger, alerts: authority.alertHook(for: settings))
        let model = settings.pace(try input.model.makeModel(), spec: input.model, limiters: rateLimiters)
        let agent = Agent(name: input.scope.agent ?? "chat", model: model, instructions: input.instructions, controls: controls)
        var window: ConversationWindow?
        if let tokens = input.windowTokens {
            guard (64...2_000_000).contains(tokens) else { throw InputError("--window must be from 64 to 2,000,000 tokens") }
            let counter = (try? TokenEstimate.counter(forModel: model.name)) ?? TokenCounter(name: "estimate") { ($0.utf8.count + 3) / 4 }
            window = ConversationWindow(maxTokens: tokens, counter: counter)
        }
        let summarizer = try input.summarizer.map { spec in
            try authority.checkModel(spec, usesMCP: false)
            return settings.pace(try spec.makeModel(), spec: spec, limiters: rateLimiters)
        }
        let memory = SessionMemory(store: sessions, id: input.session, scope: input.scope, window: window, summarizer: summarizer)
        return try await agent.run(input.prompt, session: memory, in: context)
    }
}
