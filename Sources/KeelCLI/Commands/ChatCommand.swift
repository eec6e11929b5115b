import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelRuntime

/// Whose conversation.
struct SessionScopeOptions: ParsableArguments {
    @Option(help: "The tenant.") var tenant = "default"
    @Option(help: "The user within the tenant.") var user: String?
    @Option(help: "The agent.") var agent: String?

    var scope: MemoryScope { MemoryScope(tenant: tenant, user: user, agent: agent) }
}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Continue a conversation kept in the store: one turn, as a durable run.",
        discussion: """
            Each turn is a run; a turn killed midway is resumed by the next keel chat on the session (which finds it holding the session) \
            instead of being asked again. Two turns on one session at once are refused.
            """)

    @Option(help: "The conversation's id.") var session: String
    @Option(help: "The user within the tenant (--tenant, default 'default').") var user: String?
    @Option(help: "The agent.") var agent: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var controlOptions: ControlOptions
    @Option(help: "The system prompt.") var instructions: String?
    @Option(help: ArgumentHelp("Send at most this many tokens of the conversation (whole turns, newest first).", valueName: "tokens")) var window: Int?
    @Option(help: ArgumentHelp("With --window: the model that folds older turns into a running summary.", valueName: "spec")) var summarizer: String?
    @Argument(help: "What the user says.") var prompt: String

    func run() async throws {
        let scope = MemoryScope(tenant: controlOptions.tenant ?? "default", user: user, agent: agent)
        let record = try await catching { () -> RunRecord in
            let opened = try await storeOptions.open()
            guard let sessions = opened.store as? any SessionStore else { throw CLIError("the store at \(storeOptions.location) keeps no sessions") }
            let current = try await sessions.session(session, in: scope)
            // A turn that holds the session is this session's unfinished turn: resume it.
            let turn = (current?.version ?? 0) + 1
            let runID = ChatWorkflow.runID(session: session, scope: scope, turn: turn)
            if let holder = current?.heldBy, holder != runID {
                throw CLIError("the session \(session) is in use by run \(holder); try again when it has answered (or keel sessions release \(session))")
            }
            let input = ChatWorkflow.Input(
                session: session, scope: scope, prompt: prompt, model: modelOptions.spec(offline: "writer"), instructions: instructions, windowTokens: window,
                summarizer: summarizer.map { ModelSpec(spec: $0) }, controls: try controlOptions.settings())
            let start = try await Application.startOrResume(
                NewRun(id: runID, workflow: "chat", input: try JSONValue(encoding: input), tenant: controlOptions.tenant), in: opened.store)
            if start.isResumed, let asked = try? start.record.input.decode(as: ChatWorkflow.Input.self), asked.prompt != prompt {
                Console.error("turn \(turn) of \(session) was asked before and did not finish; answering it first: \(asked.prompt)")
            }
            let runtime = Application.runtime(opened, authority: controlOptions.authority(model: modelOptions))
            return try await runtime.run(runID)
        }
        switch record.status {
        case .completed:
            guard let result = try? record.output?.decode(as: AgentRunResult.self) else { throw CLIError("run \(record.id) completed without an answer") }
            Console.line(result.answer ?? "(the agent stopped: \(result.outcome.kind))")
        case .failed:
            throw CLIError("the turn failed: \(record.failure.map(\.description) ?? "unknown"); run keel chat --session \(session) again to resume it")
        default:
            for line in RunOutcome.lines(record, report: .describe) { Console.line(line) }
        }
    }
}

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "List, show, release and delete conversations.", subcommands: [List.self, Show.self, Release.self, Delete.self])

    static func store(_ options: StoreOptions) async throws -> any SessionStore {
        guard let sessions = try await options.openStore() as? any SessionStore else { throw CLIError("the store at \(options.location) keeps no sessions") }
        return sessions
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The conversations of a tenant (user, agent), newest first.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var scopeOptions: SessionScopeOptions

        func run() async throws {
            for session in try await catching({ try await SessionsCommand.store(storeOptions).sessions(in: scopeOptions.scope) }) {
                let held = session.heldBy.map { "\theld by \($0)" } ?? ""
                Console.line("\(session.id)\t\(session.version) turns\t\(session.messages.count) messages kept\(session.summary == nil ? "" : "\tsummarised")\(held)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A conversation's summary and the messages kept.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var scopeOptions: SessionScopeOptions
        @Flag(help: "Print JSON.") var json = false
        @Argument(help: "The conversation's id.") var id: String

        func run() async throws {
            guard let session = try await catching({ try await SessionsCommand.store(storeOptions).session(id, in: scopeOptions.scope) }) else {
                throw CLIError("no session '\(id)' in \(scopeOptions.scope)")
            }
            if json {
                Console.line(try JSONValue(encoding: session).prettySerialized())
                return
            }
            if let summary = session.summary { Console.line("summary: \(summary)") }
            for message in session.messages { Console.line("\(message.role): \(message.text ?? "")") }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Free a conversation held by a run that will not finish.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var scopeOptions: SessionScopeOptions
        @Argument(help: "The conversation's id.") var id: String

        func run() async throws {
            let released = try await catching { try await SessionsCommand.store(storeOptions).releaseSession(id, in: scopeOptions.scope) }
            Console.line(released ? "released \(id)" : "\(id) was not held")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a conversation.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var scopeOptions: SessionScopeOptions
        @Argument(help: "The conversation's id.") var id: String

        func run() async throws {
            guard try await catching({ try await SessionsCommand.store(storeOptions).deleteSession(id, in: scopeOptions.scope) }) else {
                throw CLIError("no session '\(id)' in \(scopeOptions.scope)")
            }
            Console.line("deleted \(id)")
        }
    }
}
