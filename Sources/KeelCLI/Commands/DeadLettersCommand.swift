import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelRuntime

struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Runs that failed after their retries: list them, see why, and retry them from the failed step.",
        subcommands: [List.self, Show.self, Retry.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Include the ones already retried.") var all = false
        @Option(help: "The most to list.") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let letters = try await catching { try await storeOptions.openStore().deadLetters(includeResolved: all, limit: limit) }
            if json {
                Console.line(JSONValue.array(letters.map(DeadLettersCommand.json)).prettySerialized())
                return
            }
            guard !letters.isEmpty else {
                Console.line("no dead letters in \(storeOptions.location)")
                return
            }
            let rows = letters.map { letter in
                [letter.runID, letter.workflow, letter.failure.sequence.map(String.init) ?? "-", letter.failure.code,
                 letter.resolvedAt == nil ? "open" : "retried", letter.createdAt.formatted(.iso8601)]
            }
            Console.line(RunReport.format([["RUN", "WORKFLOW", "STEP", "ERROR", "STATE", "FAILED"]] + rows))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a dead letter: the error, the step, the journal.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (letter, record, journal) = try await catching {
                let store = try await storeOptions.openStore()
                guard let letter = try await store.deadLetters(includeResolved: true, limit: 10_000).first(where: { $0.runID == id }),
                    let record = try await store.run(id: id)
                else { throw CLIError("run '\(id)' is not in the dead-letter queue of \(storeOptions.location)") }
                return (letter, record, try await store.journal(runID: id))
            }
            if json {
                guard case .object(var object) = DeadLettersCommand.json(letter) else { return }
                object["run"] = RunReport.json(record, journal: journal)
                Console.line(JSONValue.object(object).prettySerialized())
                return
            }
            Console.line("dead letter  \(letter.runID) (\(letter.resolvedAt == nil ? "open" : "retried"))")
            Console.line("error        \(letter.failure)")
            Console.line("journal      \(letter.journalLength) completed steps when it failed")
            Console.line("retry with   keel dead-letters retry \(letter.runID)")
            Console.line("")
            Console.line(RunReport.text(record, journal: journal))
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retry a dead letter from the step that failed.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorityOptions: AuthorityOptions
        @Argument(help: "The run's id.") var id: String

        func run() async throws {
            let record = try await catching {
                let opened = try await storeOptions.open()
                let store = opened.store
                guard try await store.deadLetters(includeResolved: false, limit: 10_000).contains(where: { $0.runID == id }) else {
                    throw CLIError("run '\(id)' is not an open dead letter in \(storeOptions.location)")
                }
                _ = try await store.reopen(runID: id)
                return try await Application.runtime(opened, authority: authorityOptions.authority).run(id)
            }
            for line in RunOutcome.lines(record, report: .write) where !line.hasPrefix("resume it with") { Console.line(line) }
            if record.status == .failed { throw CLIError("run \(record.id) failed again and is back in the dead-letter queue") }
        }
    }

    static func json(_ letter: DeadLetter) -> JSONValue {
        [
            "run_id": .string(letter.runID), "workflow": .string(letter.workflow), "tenant": letter.tenant.map(JSONValue.string) ?? .null,
            "code": .string(letter.failure.code), "message": .string(letter.failure.message),
            "step": letter.failure.sequence.map { .number(Double($0)) } ?? .null, "journal_length": .number(Double(letter.journalLength)),
            "failed_at": .string(letter.createdAt.formatted(.iso8601)), "resolved": .bool(letter.resolvedAt != nil),
        ]
    }
}
