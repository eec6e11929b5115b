import Foundation
import KeelCore
import KeelRuntime

/// Runs and journals as tables and JSON.
enum RunReport {
    static let prices = PriceTable.defaults

    static func summary(_ record: RunRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(record.id), "workflow": .string(record.workflow), "status": .string(record.status.rawValue),
            "created_at": .string(record.createdAt.formatted(.iso8601)), "updated_at": .string(record.updatedAt.formatted(.iso8601)),
        ]
        if let failure = record.failure { object["failure"] = ["code": .string(failure.code), "message": .string(failure.message)] }
        if let wakeAt = record.wakeAt { object["wake_at"] = .string(wakeAt.formatted(.iso8601)) }
        if !record.waitingFor.isEmpty { object["waiting_for"] = .array(record.waitingFor.map(JSONValue.string)) }
        if let parent = record.parentRunID { object["forked_from"] = ["run": .string(parent), "at": .number(Double(record.forkedAt ?? 0))] }
        if let tenant = record.tenant { object["tenant"] = .string(tenant) }
        return .object(object)
    }

    static func table(_ runs: [RunRecord]) -> String {
        let rows = runs.map { [$0.id, $0.workflow, $0.status.rawValue, $0.updatedAt.formatted(.iso8601)] }
        return format([["ID", "WORKFLOW", "STATUS", "UPDATED"]] + rows)
    }

    /// Total usage and cost of the metered steps.
    static func usage(_ journal: [JournalEntry]) -> (Usage, Double?) {
        var usage = Usage.zero
        var cost: Double? = 0
        for entry in journal {
            guard let metering = entry.metering else { continue }
            usage += metering.usage
            if let stepCost = prices.cost(of: metering.usage, model: metering.model) { cost = cost.map { $0 + stepCost } } else { cost = nil }
        }
        return (usage, cost)
    }

    static func text(_ record: RunRecord, journal: [JournalEntry]) -> String {
        var lines = ["run       \(record.id)", "workflow  \(record.workflow)", "status    \(record.status.rawValue)"]
        if let failure = record.failure { lines.append("failure   \(failure)") }
        if record.status == .completed {
            for line in RunOutcome.lines(record, report: .describe).dropFirst() { lines.append("outcome   \(line)") }
        }
        if let wakeAt = record.wakeAt { lines.append("wakes at  \(wakeAt.formatted(.iso8601))") }
        if !record.waitingFor.isEmpty { lines.append("waits for \(record.waitingFor.joined(separator: ", "))") }
        if let parent = record.parentRunID { lines.append("forked    from \(parent) at step \(record.forkedAt ?? 0)") }
        let (usage, cost) = usage(journal)
        lines.append("steps     \(journal.count)")
        lines.append(
            "usage     \(usage.inputTokens) input (\(usage.cachedInputTokens) cached) + \(usage.outputTokens) output tokens"
                + (usage.isEstimated ? " (~ estimated: some calls carried no usage)" : ""))
        lines.append("cost      \(cost.map { String(format: "$%.4f", $0) } ?? "some models have no price")")
        lines.append("")
        let rows = journal.map { entry -> [String] in
            let tokens = entry.metering.map { ($0.usage.isEstimated ? "~" : "") + "\($0.usage.inputTokens)+\($0.usage.outputTokens)" } ?? ""
            return [entry.address, entry.name, entry.kind.rawValue, entry.status.rawValue, tokens, entry.attempts > 1 ? "\(entry.attempts)" : ""]
        }
        lines.append(format([["STEP", "NAME", "KIND", "STATUS", "TOKENS", "ATTEMPTS"]] + rows))
        return lines.joined(separator: "\n")
    }

    static func json(_ record: RunRecord, journal: [JournalEntry]) -> JSONValue {
        guard case .object(var object) = summary(record) else { return .null }
        let (usage, cost) = usage(journal)
        object["usage"] = AgentReport.usage(usage)
        object["cost_usd"] = cost.map { .number($0) } ?? .null
        object["steps"] = .array(journal.map { entry in
            var step: [String: JSONValue] = [
                "sequence": .number(Double(entry.sequence)), "address": .string(entry.address), "name": .string(entry.name), "kind": .string(entry.kind.rawValue),
                "status": .string(entry.status.rawValue), "attempts": .number(Double(entry.attempts)),
            ]
            if let metering = entry.metering {
                step["model"] = .string(metering.model)
                step["usage"] = AgentReport.usage(metering.usage)
            }
            if !entry.scope.isEmpty { step["scope"] = .string(entry.scope) }
            if let key = entry.idempotencyKey { step["idempotency_key"] = .string(key) }
            return .object(step)
        })
        if let output = record.output { object["output"] = output }
        return .object(object)
    }

    /// Columns padded to their widest cell.
    static func format(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
