import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelRuntime

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, inspect, resume, cancel, fork and signal durable runs.",
        subcommands: [List.self, Show.self, Resume.self, Cancel.self, Fork.self, Signal.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: ArgumentHelp("Only runs with this status: pending, running, waiting, completed, failed or cancelled.", valueName: "status"))
        var status: String?
        @Option(help: "The most runs to list.")
        var limit = 50
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            var statuses: Set<RunStatus>?
            if let status {
                guard let parsed = RunStatus(rawValue: status) else { throw CLIError("unknown status '\(status)'") }
                statuses = [parsed]
            }
            let runs = try await catching { try await storeOptions.openStore().listRuns(RunQuery(statuses: statuses, limit: limit)) }
            if json {
                Console.line(JSONValue.array(runs.map(RunReport.summary)).prettySerialized())
                return
            }
            guard !runs.isEmpty else {
                Console.line("no runs in \(storeOptions.location)")
                return
            }
            Console.line(RunReport.table(runs))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run: its status, every step and its usage.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (record, journal) = try await catching {
                let store = try await storeOptions.openStore()
                guard let record = try await store.run(id: id) else { throw CLIError("no run '\(id)' in \(storeOptions.location)") }
                return (record, try await store.journal(runID: id))
            }
            Console.line(json ? RunReport.json(record, journal: journal).prettySerialized() : RunReport.text(record, journal: journal))
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a run from where it stopped (a failed run from the step that failed).")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorityOptions: AuthorityOptions
        @Argument(help: "The run's id.") var id: String

        func run() async throws {
            let record = try await catching {
                let opened = try await storeOptions.open()
                guard try await Application.resume(id, in: opened.store) != nil else { throw CLIError("no run '\(id)' in \(storeOptions.location)") }
                return try await Application.runtime(opened, authority: authorityOptions.authority).run(id)
            }
            for line in RunOutcome.lines(record, report: .write) { Console.line(line) }
            if record.status == .failed { throw CLIError("run \(record.id) failed again", exitCode: 1) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a run; a process running it stops at its next step.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run's id.") var id: String

        func run() async throws {
            let record = try await catching { try await storeOptions.openStore().cancel(runID: id) }
            Console.line("run \(record.id) is \(record.status)")
        }
    }

    struct Fork: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a new run from a run's journal before step --at.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run to fork.") var id: String
        @Option(help: "The journal position to fork at: the new run keeps steps 0 up to this one, excluded.") var at: Int
        @Option(name: .customLong("run-id"), help: ArgumentHelp("The new run's id (default: a new id).", valueName: "id")) var runID: String?

        func run() async throws {
            let record = try await catching { try await storeOptions.openStore().fork(runID: id, atSequence: at, newRunID: runID ?? newRunID("fork")) }
            Console.line(record.id)
            Console.error("forked \(id) at step \(at) into \(record.id); run it with: keel runs resume \(record.id)")
        }
    }

    struct Signal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a signal to a run that waits for it.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The run's id.") var id: String
        @Argument(help: "The signal's name.") var name: String
        @Option(help: ArgumentHelp("The payload as JSON.", valueName: "json")) var payload = "null"
        @Option(help: ArgumentHelp("A key that makes the send idempotent: sent again with the same key, it delivers nothing more.", valueName: "key"))
        var key: String?

        func run() async throws {
            let value: JSONValue
            do {
                value = try JSONValue(parsing: payload)
            } catch {
                throw CLIError("--payload is not JSON: \(error.description)")
            }
            let delivered = try await catching { try await storeOptions.openStore().signal(runID: id, name: name, payload: value, idempotencyKey: key) }
            Console.line(delivered ? "signal \(name) sent to run \(id)" : "signal \(name) with key \(key ?? "") was already sent to run \(id); not sent again")
        }
    }
}

/// Runs `body`, turning store and workflow errors into one-line CLI errors.
func catching<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as CLIError {
        throw error
    } catch {
        throw CLIError.from(error)
    }
}
