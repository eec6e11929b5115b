import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelRuntime

/// `keel approvals list`.
struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals", abstract: "List the approvals runs wait for, and those decided.", subcommands: [List.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List approvals, oldest first.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: ArgumentHelp("Only this run's approvals.", valueName: "id")) var run: String?
        @Option(help: ArgumentHelp("Only approvals in this status: pending, approved, denied, expired or escalated.", valueName: "status"))
        var status: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var wanted: ApprovalStatus?
            if let status {
                guard let parsed = ApprovalStatus(rawValue: status) else {
                    throw CLIError("unknown status '\(status)'; use \(ApprovalStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                wanted = parsed
            }
            let records = try await catching { try await storeOptions.openStore().approvals(runID: run, status: wanted) }
            if json {
                Console.line(JSONValue.array(records.map(ApprovalReport.json)).prettySerialized())
            } else if records.isEmpty {
                Console.line("no approvals in \(storeOptions.location)")
            } else {
                Console.line(ApprovalReport.table(records))
            }
        }
    }
}

/// Who decides, by default: the user running the command.
func defaultDecider() -> String {
    ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "cli"
}

/// Records a decision and, with `--resume`, runs the run on.
private func decide(
    _ id: String, _ decision: ApprovalDecision, by: String, resume: Bool, storeOptions: StoreOptions, authority: RunAuthority
) async throws {
    let (record, resumed) = try await catching {
        let opened = try await storeOptions.open()
        let record = try await opened.store.decideApproval(id: id, decision: decision, by: by)
        let resumed = resume ? try await Application.runtime(opened, authority: authority).run(record.request.runID) : nil
        return (record, resumed)
    }
    let verb = record.status == .approved ? "approved" : "denied"
    Console.line("\(verb) \(record.request.id) (\(record.request.tool) in run \(record.request.runID)) as \(by)")
    if let resumed {
        for line in RunOutcome.lines(resumed, report: .write) { Console.line(line) }
    } else {
        Console.error("resume the run with: keel runs resume \(record.request.runID)")
    }
}

/// `keel approve ID`.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve a tool call a run waits for, as it is or with edited arguments.",
        discussion: "A decision is single-use: an approval already decided cannot be decided again. The run resumes in any process.")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var authorityOptions: AuthorityOptions
    @Argument(help: "The approval's id (keel approvals list).") var id: String
    @Option(help: ArgumentHelp("Run the call with these arguments instead (a JSON object).", valueName: "json")) var args: String?
    @Option(help: ArgumentHelp("Who approves (default: $USER).", valueName: "name")) var by: String?
    @Flag(help: "Resume the run at once in this process.") var resume = false

    func run() async throws {
        var decision = ApprovalDecision.approve
        if let args {
            guard let parsed = try? JSONValue(parsing: args), parsed.objectValue != nil else { throw CLIError("--args must be a JSON object, got '\(args)'") }
            decision = .approveWithArguments(parsed.serialized())
        }
        try await decide(id, decision, by: by ?? defaultDecider(), resume: resume, storeOptions: storeOptions, authority: authorityOptions.authority)
    }
}

/// `keel deny ID --reason TEXT`.
struct DenyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deny", abstract: "Deny a tool call a run waits for; the model reads the reason.",
        discussion: "A decision is single-use: an approval already decided cannot be decided again. The run resumes in any process.")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var authorityOptions: AuthorityOptions
    @Argument(help: "The approval's id (keel approvals list).") var id: String
    @Option(help: "Why, for the model to read.") var reason: String
    @Option(help: ArgumentHelp("Who denies (default: $USER).", valueName: "name")) var by: String?
    @Flag(help: "Resume the run at once in this process.") var resume = false

    func validate() throws {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason must say why") }
    }

    func run() async throws {
        try await decide(id, .deny(reason: reason), by: by ?? defaultDecider(), resume: resume, storeOptions: storeOptions, authority: authorityOptions.authority)
    }
}

/// `keel audit` and `keel audit verify`.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Show the audit log of policy decisions, approvals and tool calls, or verify its hash chain.",
        subcommands: [List.self, Verify.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show audit entries in order.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: ArgumentHelp("Only this run's entries.", valueName: "id")) var run: String?
        @Option(help: ArgumentHelp("Only this tool's entries.", valueName: "name")) var tool: String?
        @Option(help: "The most entries to show.") var limit: Int?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let entries = try await catching { try await storeOptions.openStore().auditLog(runID: run, tool: tool, limit: limit) }
            if json {
                Console.line(JSONValue.array(entries.map(ApprovalReport.auditJSON)).prettySerialized())
            } else if entries.isEmpty {
                Console.line("no audit entries in \(storeOptions.location)")
            } else {
                Console.line(ApprovalReport.auditTable(entries))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit log's hash chain; exits 1 if an entry was edited, inserted or deleted.",
            discussion: "Keep the head hash it prints somewhere else: a log rewritten from the start can only be caught against it.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("expect-head"), help: ArgumentHelp("Fail unless the log still contains this head hash from an earlier check.", valueName: "hash"))
        var expectHead: String?

        func run() async throws {
            let store = try await storeOptions.openStore()
            let verification = try await catching { try await store.verifyAuditLog() }
            guard verification.isIntact else {
                throw CLIError("audit log of \(storeOptions.location) is broken at entry \(verification.firstBrokenSequence ?? 0): \(verification.problem ?? "unknown problem")", exitCode: 1)
            }
            if let expectHead {
                let entries = try await catching { try await store.auditLog(runID: nil, tool: nil, limit: nil) }
                guard entries.contains(where: { $0.hash == expectHead }) else {
                    throw CLIError("audit log of \(storeOptions.location) no longer contains the head \(expectHead) recorded earlier; it was rewritten", exitCode: 1)
                }
            }
            Console.line("audit log intact: \(verification.entries) entries, head \(verification.headHash)")
        }
    }
}
