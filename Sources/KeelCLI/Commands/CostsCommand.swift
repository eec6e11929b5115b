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
                 "unpriced_steps": .number(Double(row.unpricedSteps)), "estimated_steps": .number(Double(row.estimatedSteps))]
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
        // An estimated count is marked with `~`.
        func tokens(_ count: Int, _ row: CostRow) -> String { (row.estimatedSteps > 0 ? "~" : "") + String(count) }
        let total = rows.reduce(CostRow(key: "TOTAL", steps: 0, usage: .zero, costUSD: 0)) { total, row in
            CostRow(
                key: "TOTAL", steps: total.steps + row.steps, usage: total.usage + row.usage, costUSD: total.costUSD + row.costUSD,
                unpricedSteps: total.unpricedSteps + row.unpricedSteps, estimatedSteps: total.estimatedSteps + row.estimatedSteps)
        }
        let table = (rows + [total]).map { row in
            [row.key, String(row.steps), tokens(row.usage.inputTokens, row), tokens(row.usage.cachedInputTokens, row), tokens(row.usage.outputTokens, row),
             cost(row.costUSD, unpriced: row.unpricedSteps)]
        }
        Console.line(RunReport.format([[by.uppercased(), "CALLS", "INPUT", "CACHED", "OUTPUT", "COST"]] + table))
        if total.estimatedSteps > 0 {
            Console.error("~ \(total.estimatedSteps) of \(total.steps) calls carried no usage from the provider: their tokens are Keel's estimate")
        }
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
