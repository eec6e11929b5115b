import Foundation
import KeelCore

/// A conversation an agent continues: where it is kept, whose it is, and how much of it is sent.
public struct SessionMemory: Sendable {
    public var store: any SessionStore
    public var id: String
    public var scope: MemoryScope
    /// How much of the conversation is sent; `nil` sends all of it.
    public var window: ConversationWindow?
    /// The (cheaper) model that folds the turns that leave the window into a running summary; `nil`
    /// keeps them in the session without sending them.
    public var summarizer: (any ChatModel)?

    public init(store: any SessionStore, id: String, scope: MemoryScope, window: ConversationWindow? = nil, summarizer: (any ChatModel)? = nil) {
        self.store = store
        self.id = id
        self.scope = scope
        self.window = window
        self.summarizer = summarizer
    }

    /// The system message that carries the summary.
    public static let summaryHeading = "Summary of the conversation so far:"
}

extension Agent {
    /// Continues the conversation `session` with `prompt`, as a run kept in memory.
    public func run(_ prompt: String, session: SessionMemory, observer: (@Sendable (AgentEvent) -> Void)? = nil) async throws -> AgentRunResult {
        try await RunContext.inMemory(clock: clock, logger: logger, approver: controls.governance?.approver) { context in
            try await run(prompt, session: session, in: context, observer: observer)
        }
    }

    /// Continues the conversation `session` with `prompt` as durable steps of `context`:
    ///
    /// 1. `session:claim` holds the session for this run (another run on it is refused) and
    ///    journals what it held, so a resumed run continues from the same history;
    /// 2. with a window, the turns that do not fit are left out — or, with a summariser, folded
    ///    into the running summary by a metered model step (`session:summary`) and dropped;
    /// 3. the agent answers from its instructions, the summary, the kept turns and the prompt;
    /// 4. `session:save` stores the kept turns and the new one, one version on, and releases it.
    public func run(
        _ prompt: String, session: SessionMemory, in context: RunContext, observer: (@Sendable (AgentEvent) -> Void)? = nil
    ) async throws -> AgentRunResult {
        let (store, id, scope, runID) = (session.store, session.id, session.scope, context.runID)
        let claimed = try await context.step("session:claim") { try await store.claimSession(id, in: scope, by: runID) }
        var history = claimed.messages
        var summary = claimed.summary
        if let window = session.window {
            let (older, kept) = window.split(history + [.user(prompt)])
            if !older.isEmpty {
                if let summarizer = session.summarizer {
                    summary = try await summarize(older, into: summary, with: summarizer, context: context)
                    history = Array(kept.dropLast())
                } else {
                    // Kept in the session, not sent.
                    history = Array(kept.dropLast())
                }
            }
        }
        var messages: [Message] = []
        if let instructions, !instructions.isEmpty { messages.append(.system(instructions)) }
        if let summary, !summary.isEmpty { messages.append(.system("\(SessionMemory.summaryHeading)\n\(summary)")) }
        let prefix = messages.count
        messages += history
        messages.append(.user(prompt))
        var loop = AgentLoop(transcript: Transcript(messages), tools: toolDefinitions, configuration: configuration)
        let result = try await drive(&loop, in: context, modelFailures: .failTheRun, observer: observer)
        let turn = result.transcript.messages.dropFirst(prefix + history.count).filter { if case .system = $0 { false } else { true } }
        // Without a summariser the turns left out stay in the session.
        let stored = (session.summarizer == nil ? claimed.messages : history) + turn
        let savedSummary = summary
        _ = try await context.step("session:save") { try await store.saveSession(id, in: scope, messages: stored, summary: savedSummary, by: runID) }
        return result
    }

    /// The running summary with `older` folded in, as a metered model step.
    private func summarize(_ older: [Message], into summary: String?, with model: any ChatModel, context: RunContext) async throws -> String? {
        let lines = older.compactMap { message -> String? in
            guard let text = message.text, !text.isEmpty else { return nil }
            return "\(message.role): \(text.prefix(4_000))"
        }
        var prompt = "Fold these turns of a conversation into its running summary. Keep names, numbers, decisions and what the user wants; at most 200 words.\n"
        if let summary, !summary.isEmpty { prompt += "\nThe summary so far:\n\(summary)\n" }
        prompt += "\nThe turns:\n" + lines.joined(separator: "\n")
        let request = ChatRequest(messages: [.user(prompt)], maxOutputTokens: 400, temperature: 0)
        let reply = try await context.model(model, request, name: "session:summary", controls: controls, clock: clock)
        return reply.message.text ?? summary
    }
}
