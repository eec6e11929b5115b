import ArgumentParser
import Foundation
import KeelCore
import KeelRuntime

struct CostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "costs",
        abstract: "Report tokens and spending by run, model, tenant or day, from the journal."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("Group by run, model, tenant or day.", valueName: "grouping"))
    var by = "model"

    @Option(help: ArgumentHelp("Only spending since this long ago (such as 24h) or since a date (2026-11-01).", valueName: "when"))
    var since: String?

    @Option(help: "Only this tenant's runs.")
    var tenant: String?

    @Option(name: .customLong("run-id"), help: ArgumentHelp("Only this run.", valueName: "id"))
    var runID: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard let grouping = CostGrouping(rawValue: by) else { throw CLIError("--by must be run, model, tenant or day, got '\(by)'") }
        var start: Date?
        if let since {
            if let duration = Duration(parsing: since) {
                start = Date().addingTimeInterval(-(duration.timeInterval))
            } else if let date = ISO8601DateFormatter.day.date(from: since) {
                start = date
            } else {
                throw CLIError("--since must be a duration such as 24h or a date such as 2026-11-01, got '\(since)'")
            }
        }
        let rows = try await catching { try await storeOptions.openStore().costs(CostQuery(groupBy: grouping, since: start, tenant: tenant, runID: runID)) }
        if json {
            Console.line(JSONValue.array(rows.map { row in
                ["key": .string(row.key), "steps": .number(Double(row.steps)), "usage": AgentReport.usage(row.usage), "cost_usd": .number(row.costUSD),
                 "unpriced_steps": .number(Double(row.unpricedSteps))]
            }).prettySerialized())
            return
        }
        guard !rows.isEmpty else {
            Console.line("no metered steps in \(storeOptions.location)")
            return
        }
        func cost(_ dollars: Double, unpriced: Int) -> String {
            String(format: "$%.4f", dollars) + (unpriced > 0 ? " (\(unpriced) unpriced)" : "")
        }
        let total = rows.reduce((Usage.zero, 0.0, 0, 0)) { ($0.0 + $1.usage, $0.1 + $1.costUSD, $0.2 + $1.steps, $0.3 + $1.unpricedSteps) }
        let table = rows.map { [$0.key, String($0.steps), String($0.usage.inputTokens), String($0.usage.cachedInputTokens), String($0.usage.outputTokens), cost($0.costUSD, unpriced: $0.unpricedSteps)] }
            + [["TOTAL", String(total.2), String(total.0.inputTokens), String(total.0.cachedInputTokens), String(total.0.outputTokens), cost(total.1, unpriced: total.3)]]
        Console.line(RunReport.format([[by.uppercased(), "CALLS", "INPUT", "CACHED", "OUTPUT", "COST"]] + table))
    }
}

extension ISO8601DateFormatter {
    /// `yyyy-MM-dd`, UTC.
    static var day: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter
    }
}
