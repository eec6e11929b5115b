import KeelCore

/// The tokens, dollars and model calls of part of a run.
public struct UsageShare: Sendable, Hashable, Codable {
    public var usage: Usage
    /// In US dollars, of the priced calls.
    public var costUSD: Double
    public var modelCalls: Int

    public init(usage: Usage = .zero, costUSD: Double = 0, modelCalls: Int = 0) {
        self.usage = usage
        self.costUSD = costUSD
        self.modelCalls = modelCalls
    }

    public static let zero = UsageShare()

    static func += (share: inout UsageShare, metering: StepMetering) {
        share.usage += metering.usage
        share.costUSD += metering.costUSD ?? 0
        share.modelCalls += 1
    }
}

/// A run's usage attributed to the agents that spent it, read from its journal.
///
/// Work done by a named agent runs in a scope whose name ends in `@<agent>` (an agent used as a
/// tool: `call-3@researcher`; a handoff: `handoff-1@billing`; a crew's task: `task-2@writer`).
/// Each metered step belongs to the innermost such scope around it, and the steps in no such
/// scope to the run's own agent — so the shares always sum to the run's usage exactly.
public enum UsageByAgent {
    /// The usage of `journal`'s completed model steps by agent; steps outside any agent's scope
    /// count for `rootAgent`.
    public static func shares(of journal: [JournalEntry], rootAgent: String) -> [String: UsageShare] {
        var shares: [String: UsageShare] = [:]
        for entry in journal where entry.status == .completed {
            guard let metering = entry.metering else { continue }
            shares[agent(ofScope: entry.scope) ?? rootAgent, default: .zero] += metering
        }
        return shares
    }

    /// The usage of `journal`'s completed model steps by the run's own component of their scope
    /// (a crew's task scope, a graph's super-step), `""` for the run's own steps.
    public static func sharesByTopScope(of journal: [JournalEntry]) -> [String: UsageShare] {
        var shares: [String: UsageShare] = [:]
        for entry in journal where entry.status == .completed {
            guard let metering = entry.metering else { continue }
            shares[String(entry.scope.prefix { $0 != "/" }), default: .zero] += metering
        }
        return shares
    }

    /// The total of `journal`'s completed model steps.
    public static func total(of journal: [JournalEntry]) -> UsageShare {
        var total = UsageShare.zero
        for entry in journal where entry.status == .completed {
            if let metering = entry.metering { total += metering }
        }
        return total
    }

    /// The agent whose scope is innermost in `scope`, if any.
    public static func agent(ofScope scope: String) -> String? {
        guard scope.contains("@") else { return nil }
        for component in scope.split(separator: "/").reversed() {
            if let at = component.lastIndex(of: "@") { return String(component[component.index(after: at)...]) }
        }
        return nil
    }

    /// A scope name for `base` done by `agent`: `base@agent`, with the characters a scope name
    /// cannot hold (`/`, `@`) replaced by `_`.
    public static func scopeName(_ base: String, agent: String?) -> String {
        guard let agent else { return base }
        let safe = String(agent.map { $0 == "/" || $0 == "@" ? "_" : $0 })
        return "\(base)@\(safe.isEmpty ? "_" : safe)"
    }
}
