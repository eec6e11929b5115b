import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelGraph
import KeelRuntime

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Run durable state graphs; list a run's super-steps, draw it, fork it from any of them.",
        discussion: """
            The built-in graph research-review loops research → draft → review until the reviewer's score reaches the bar; \
            each super-step is journaled, so a run killed at any moment resumes with the same --run-id.
            """,
        subcommands: [Run.self, History.self, Show.self, Fork.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start or resume a graph run, with a line per super-step.")
        @Argument(help: "The graph: research-review.") var graph: String
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var controlOptions: ControlOptions
        @Option(help: "What the report is about.") var topic = "customer churn"
        @Option(name: .customLong("run-id"), help: ArgumentHelp("The run to start or resume (default: a new id).", valueName: "id")) var runID: String?
        @Option(name: .customLong("max-revisions"), help: "The most drafts before the graph stops, whatever the score.") var maxRevisions = 4
        @Option(name: .customLong("quality-bar"), help: "The reviewer's score, from 0 to 1, at which a draft is accepted.") var qualityBar = 0.8
        @Option(help: ArgumentHelp("A file the draft node records each draft in (deduplicated by idempotency key).", valueName: "path"))
        var ledger: String?
        @Option(name: .customLong("interrupt-before"), help: ArgumentHelp("Wait for a person before this node runs (repeatable); resume with keel runs signal RUN before:sN.", valueName: "node"))
        var interruptBefore: [String] = []
        @Option(name: .customLong("interrupt-after"), help: ArgumentHelp("Wait for a person after this node runs (repeatable); resume with keel runs signal RUN after:sN.", valueName: "node"))
        var interruptAfter: [String] = []
        @Flag(help: "Print the final state as JSON.") var json = false

        func validate() throws {
            guard graph == ResearchReviewWorkflow.graphName else { throw ValidationError("unknown graph '\(graph)'; the built-in graph is \(ResearchReviewWorkflow.graphName)") }
            guard (1...50).contains(maxRevisions) else { throw ValidationError("--max-revisions must be from 1 to 50") }
            guard qualityBar.isFinite, (0...1).contains(qualityBar) else { throw ValidationError("--quality-bar must be from 0 to 1") }
        }

        func run() async throws {
            let runID = self.runID ?? newRunID("graph")
            let requested = ResearchReviewWorkflow.Input(
                topic: topic, model: modelOptions.spec(offline: "editor"), maxRevisions: maxRevisions, qualityBar: qualityBar,
                controls: try controlOptions.settings(), interruptBefore: interruptBefore.isEmpty ? nil : interruptBefore,
                interruptAfter: interruptAfter.isEmpty ? nil : interruptAfter)
            let record = try await catching {
                let opened = try await storeOptions.open()
                let workflow = ResearchReviewWorkflow().name
                let start = try await Application.startOrResume(
                    NewRun(id: runID, workflow: workflow, input: try JSONValue(encoding: requested), tenant: controlOptions.tenant, deadline: controlOptions.deadlineDate),
                    in: opened.store)
                if let previous = start.previousStatus {
                    Console.line("run \(runID): resuming the \(graph) graph (\(previous))")
                } else {
                    Console.line("run \(runID): running the \(graph) graph on '\(topic)' with \(requested.model.spec) into \(storeOptions.location)")
                    Console.line("resume it after a crash with: keel graph run \(graph) --run-id \(runID)")
                }
                var researchReview = ResearchReviewWorkflow(observer: { Self.show($0) })
                researchReview.ledgerPath = ledger
                let runtime = Application.runtime(opened, authority: controlOptions.authority(model: modelOptions), researchReview: researchReview)
                return try await runtime.run(runID)
            }
            try finish(record)
        }

        /// One line per super-step (and per interrupt).
        static func show(_ event: GraphEvent) {
            switch event {
            case .superStepFinished(let index, let nodes, let next, let state, let replayed):
                let quality = state["quality"]?.doubleValue.map { String(format: " · quality %.2f", $0) } ?? ""
                let to = next.isEmpty ? "END" : next.joined(separator: ", ")
                Console.line("super-step \(index): \(nodes.joined(separator: ", ")) → \(to)\(quality)\(replayed ? " (from the journal)" : "")")
            case .interrupted(let id, _, _):
                Console.line("waiting for \(id); go on with: keel runs signal RUN \(id) [--payload '{\"update\": {…}}']")
            case .nodeFailed(let node, _, let attempt, let error, let willRetry):
                Console.error("node \(node) failed (attempt \(attempt))\(willRetry ? ", retrying" : ""): \(error)")
            default:
                break
            }
        }

        private func finish(_ record: RunRecord) throws {
            switch record.status {
            case .completed:
                guard let result = try? record.output?.decode(as: GraphResult<ResearchReviewState>.self) else {
                    throw CLIError("run \(record.id) completed but its output is not a \(graph) result")
                }
                if json {
                    Console.line(try JSONValue(encoding: result).prettySerialized())
                    return
                }
                Console.line(result.state.draft)
                let ending = switch result.outcome {
                case .finished: "finished"
                case .recursionLimitReached: "stopped at the recursion limit"
                case .deadlineReached: "stopped at the deadline"
                }
                Console.line(
                    "run \(record.id) \(ending) after \(result.superSteps) super-steps · \(result.state.revisions) drafts · quality \(String(format: "%.2f", result.state.quality))")
            case .failed:
                throw CLIError("run \(record.id) failed at \(record.failure.map(\.description) ?? "unknown"); resume it with: keel graph run \(graph) --run-id \(record.id)")
            default:
                for line in RunOutcome.lines(record, report: .describe) { Console.line(line) }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the state after each super-step of a graph run.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let checkpoints = try await catching { try await GraphCommand.history(of: id, in: storeOptions).checkpoints }
            if json {
                Console.line(try JSONValue(encoding: checkpoints).prettySerialized())
                return
            }
            for checkpoint in checkpoints {
                let ran = checkpoint.superStep == 0 ? "start" : checkpoint.nodes.joined(separator: ", ")
                let changed = Set(checkpoint.updates.values.flatMap(\.fields.keys)).sorted().joined(separator: ", ")
                let next = checkpoint.next.isEmpty ? "END" : checkpoint.next.joined(separator: ", ")
                Console.line(
                    "\(checkpoint.superStep)\t\(ran)\t→ \(next)" + (changed.isEmpty ? "" : "\tchanged: \(changed)") + (checkpoint.isEdited ? "\t(edited)" : ""))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Draw a graph as Mermaid, or a run's graph with the path it took.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "A run's id, or the graph's name (research-review).") var target: String

        func run() async throws {
            if target == ResearchReviewWorkflow.graphName {
                Console.line(String(try ResearchReviewWorkflow.structure().mermaid().dropLast()))
                return
            }
            let (graph, checkpoints) = try await catching { try await GraphCommand.history(of: target, in: storeOptions) }
            Console.line(String(graph.mermaid(path: checkpoints.filter { $0.superStep > 0 }.map(\.nodes)).dropLast()))
        }
    }

    /// The graph of the stored run `id` and the state after each of its super-steps.
    static func history(of id: String, in storeOptions: StoreOptions) async throws -> (
        graph: CompiledGraph<ResearchReviewState>, checkpoints: [GraphCheckpoint]
    ) {
        let store = try await storeOptions.openStore()
        guard let record = try await store.run(id: id) else { throw CLIError("no run '\(id)' in \(storeOptions.location)") }
        let (graph, initial) = try ResearchReviewWorkflow.graph(of: record)
        return (graph, try graph.history(try await store.journal(runID: id), initial: initial))
    }

    struct Fork: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a new run from the state after a super-step, optionally edited.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run to fork.") var id: String
        @Option(help: "The super-step whose state the new run starts from (0: the start).") var at: Int
        @Option(help: ArgumentHelp("Fields to change through their reducers, as a JSON object.", valueName: "json")) var update: String?
        @Option(help: ArgumentHelp("A whole new state, as a JSON object.", valueName: "json")) var state: String?
        @Option(name: .customLong("run-id"), help: ArgumentHelp("The new run's id (default: a new id).", valueName: "id")) var runID: String?

        func run() async throws {
            var edit: GraphResume?
            if update != nil || state != nil {
                edit = GraphResume(update: try update.map { try StateUpdate(object($0, "--update")) }, state: try state.map { .object(try object($0, "--state")) })
            }
            let newID = runID ?? newRunID("fork")
            let record = try await catching {
                let store = try await storeOptions.openStore()
                guard let record = try await store.run(id: id) else { throw CLIError("no run '\(id)' in \(storeOptions.location)") }
                let (graph, initial) = try ResearchReviewWorkflow.graph(of: record)
                return try await graph.fork(id, atSuperStep: at, in: store, newRunID: newID, initial: initial, edit: edit)
            }
            Console.line(record.id)
            Console.error("forked \(id) after super-step \(at) into \(record.id); run it with: keel graph run \(ResearchReviewWorkflow.graphName) --run-id \(record.id)")
        }

        private func object(_ text: String, _ option: String) throws -> [String: JSONValue] {
            guard case .object(let members)? = try? JSONValue(parsing: text) else { throw CLIError("\(option) must be a JSON object") }
            return members
        }
    }
}
