import Foundation
import KeelCore
import KeelRuntime

/// How a crew's tasks are done.
public enum CrewProcess: Sendable {
    /// In order, each by its own agent, each reading the outputs of the tasks before it (or of
    /// those its `context` names).
    case sequential
    /// Each task by a manager that delegates to the members (`delegate_work`, `ask_question`,
    /// restricted to the members — never to itself) and reviews what they return.
    case hierarchical(CrewManager)
}

/// The manager of a hierarchical crew: a model (CrewAI's `manager_llm`) or an agent of its own
/// (`manager_agent`), which is not a member and cannot be delegated to.
public struct CrewManager: Sendable {
    public var agent: CrewAgent

    /// A manager that works with `model` (`nil`: the crew's).
    public init(model: (any ChatModel)? = nil) {
        agent = CrewAgent(
            key: "manager", role: "Crew Manager",
            goal: "Get each task done well by delegating its parts to the right coworkers and checking what they return.",
            backstory: "You are a seasoned manager. You do not do the work yourself: you plan it, hand each part to the coworker best suited to it with everything they need, ask them questions when something is unclear, and review their results before you answer.",
            model: model, allowDelegation: true)
    }

    /// A manager that is `agent` (its delegation is always allowed).
    public init(agent: CrewAgent) {
        var agent = agent
        agent.allowDelegation = true
        self.agent = agent
    }
}

/// What a crew reports while it works.
public enum CrewEvent: Sendable, Hashable {
    case taskStarted(task: String, agent: String)
    /// A task finished; `replayed` when its output came from the journal.
    case taskFinished(TaskOutput, replayed: Bool)
    /// A task waits for a person: send the signal `signal` with a ``TaskReview`` payload.
    case awaitingReview(task: String, signal: String)
}

/// A team of role-playing agents working through tasks, as in CrewAI — durable in Keel.
///
/// ```swift
/// let crew = Crew(
///     agents: [researcher, writer], tasks: [research, write], process: .sequential, model: model)
/// let result = try await crew.kickoff(inputs: ["topic": "AI agents"], in: context)
/// print(result.output, result.usageByAgent)
/// ```
///
/// **Durable.** Each task is a step of the run (`task:<name>`) whose work is done in its own scope
/// (`task-<n>-<name>@<agent>`): every model and tool call inside is a journaled step, so a crew
/// killed mid-task resumes inside that task, and a finished task is never done again — its output
/// is replayed. Usage and cost per agent and per task come from the journal
/// (``UsageByAgent``) and sum exactly to the run's.
public struct Crew: Sendable {
    public var agents: [CrewAgent]
    public var tasks: [CrewTask]
    public var process: CrewProcess
    /// The model of agents that name none.
    public var model: any ChatModel
    /// Budgets, retries and timeouts for every agent.
    public var controls: AgentControls
    /// The most model calls a minute for the whole crew (each agent's own limit applies too).
    public var maxRequestsPerMinute: Int?
    /// Where tasks' output files are written (this process's setting); `nil` writes none.
    public var outputDirectory: String?
    /// Where the crew's pacing limiters live.
    public var rateLimiters: RateLimiters
    public var observer: (@Sendable (CrewEvent) -> Void)?

    public init(
        agents: [CrewAgent], tasks: [CrewTask], process: CrewProcess = .sequential, model: any ChatModel, controls: AgentControls = AgentControls(),
        maxRequestsPerMinute: Int? = nil, outputDirectory: String? = nil, rateLimiters: RateLimiters = .shared,
        observer: (@Sendable (CrewEvent) -> Void)? = nil
    ) {
        self.agents = agents
        self.tasks = tasks
        self.process = process
        self.model = model
        self.controls = controls
        self.maxRequestsPerMinute = maxRequestsPerMinute
        self.outputDirectory = outputDirectory
        self.rateLimiters = rateLimiters
        self.observer = observer
    }

    /// What is wrong with the crew's definition: every problem, or none.
    public func problems() -> [String] {
        var problems: [String] = []
        let keys = agents.map(\.key)
        for key in Set(keys) where keys.count(where: { $0 == key }) > 1 { problems.append("the agent \(key) is defined twice") }
        if tasks.isEmpty { problems.append("the crew has no tasks") }
        let isHierarchical = if case .hierarchical = process { true } else { false }
        if case .hierarchical(let manager) = process, keys.contains(manager.agent.key) {
            problems.append("the manager \(manager.agent.key) is also a member; a manager cannot be delegated to")
        }
        var earlier: Set<String> = []
        for task in tasks {
            if earlier.contains(task.name) { problems.append("the task \(task.name) is defined twice") }
            if let agent = task.agent, !keys.contains(agent) {
                problems.append("the task \(task.name) names the agent \(agent), which is not defined (agents: \(keys.joined(separator: ", ")))")
            } else if task.agent == nil, !isHierarchical {
                problems.append("the task \(task.name) names no agent; a sequential crew needs one for every task")
            }
            for name in task.context ?? [] where !earlier.contains(name) {
                let known = tasks.contains { $0.name == name }
                problems.append("the task \(task.name) reads the context of \(name), which \(known ? "comes after it" : "is not defined")")
            }
            if let file = task.outputFile, CrewFiles.relativePath(file) == nil {
                problems.append("the task \(task.name) writes to \(file); an output file must be a relative path inside the output directory")
            }
            earlier.insert(task.name)
        }
        if let last = tasks.last, last.isAsync { problems.append("the last task, \(last.name), is asynchronous; the crew's last task must not be") }
        return problems
    }

    // MARK: Kickoff

    /// Runs the crew in memory with `inputs` filling the `{name}` placeholders.
    public func kickoff(inputs: [String: String] = [:]) async throws -> CrewResult {
        try await RunContext.inMemory { context in try await kickoff(inputs: inputs, in: context) }
    }

    /// Runs the crew as durable steps of `context`.
    ///
    /// Throws ``CrewError`` before any work when the definition is wrong or an input is missing.
    public func kickoff(inputs: [String: String] = [:], in context: RunContext) async throws -> CrewResult {
        let problems = problems()
        guard problems.isEmpty else { throw CrewError("the crew cannot run: " + problems.joined(separator: "; ")) }
        let run = try CrewRun(crew: self, inputs: inputs)
        var outputs: [TaskOutput] = []
        var index = 0
        while index < run.tasks.count {
            // A group of asynchronous tasks runs side by side; a synchronous task alone.
            var group = [index]
            if run.tasks[index].isAsync {
                while index + group.count < run.tasks.count, run.tasks[index + group.count].isAsync { group.append(index + group.count) }
            }
            let first = context.reserveSequences(group.count).lowerBound
            let done = outputs
            let results = try await withThrowingTaskGroup(of: (Int, TaskOutput).self) { tasks in
                for (offset, taskIndex) in group.enumerated() {
                    tasks.addTask { (offset, try await run.task(taskIndex, at: first + offset, after: done, in: context)) }
                }
                var results: [(Int, TaskOutput)] = []
                for try await result in tasks { results.append(result) }
                return results.sorted { $0.0 < $1.0 }.map(\.1)
            }
            outputs += results
            index += group.count
            if let stopped = results.first(where: { !$0.isCompleted }) {
                context.logger.warning("crew stopped", metadata: ["task": "\(stopped.task)", "outcome": "\(stopped.outcome)"])
                break
            }
        }
        let journal = try await context.storedJournal()
        return CrewResult(tasks: outputs, journal: journal, scope: context.scope)
    }

    /// Runs the crew once per set of inputs, at most `limit` at a time, each in its own scope
    /// (`kickoff-<n>`) of `context`; the run's budgets and rate limits hold across all of them.
    public func kickoff(forEach inputs: [[String: String]], limit: Int = 4, in context: RunContext) async throws -> [CrewResult] {
        let names = inputs.indices.map { "kickoff-\($0)" }
        let byName = Dictionary(uniqueKeysWithValues: zip(names, inputs))
        return try await context.branches(names, limit: max(1, limit)) { name, scope in
            try await kickoff(inputs: byName[name] ?? [:], in: scope)
        }
    }
}

/// A crew's result: each task's output, and usage per agent and per task.
public struct CrewResult: Sendable, Hashable, Codable {
    public var tasks: [TaskOutput]
    /// Tokens, dollars and model calls per agent (by key; `manager` for a model manager).
    public var usageByAgent: [String: UsageShare]
    /// Tokens, dollars and model calls per task.
    public var usageByTask: [String: UsageShare]
    /// The crew's total: the sum of either breakdown.
    public var usage: UsageShare

    /// The last task's answer.
    public var output: String { tasks.last?.raw ?? "" }

    /// Whether every task completed.
    public var isCompleted: Bool { !tasks.isEmpty && tasks.allSatisfy(\.isCompleted) }

    init(tasks: [TaskOutput], journal: [JournalEntry], scope: String) {
        self.tasks = tasks
        let prefix = scope.isEmpty ? "" : scope + "/"
        let own = journal.filter { scope.isEmpty || $0.scope.hasPrefix(prefix) }
        var byAgent: [String: UsageShare] = [:]
        var byTask: [String: UsageShare] = [:]
        var total = UsageShare.zero
        for entry in own where entry.status == .completed {
            guard let metering = entry.metering else { continue }
            let share = UsageShare(usage: metering.usage, costUSD: metering.costUSD ?? 0, modelCalls: 1)
            let agent = UsageByAgent.agent(ofScope: entry.scope) ?? "crew"
            let taskScope = entry.scope.dropFirst(prefix.count).prefix { $0 != "/" }
            let task = CrewRun.taskName(ofScope: taskScope) ?? "crew"
            byAgent[agent, default: .zero] = byAgent[agent, default: .zero] + share
            byTask[task, default: .zero] = byTask[task, default: .zero] + share
            total = total + share
        }
        usageByAgent = byAgent
        usageByTask = byTask
        usage = total
    }
}

extension UsageShare {
    static func + (lhs: UsageShare, rhs: UsageShare) -> UsageShare {
        UsageShare(usage: lhs.usage + rhs.usage, costUSD: lhs.costUSD + rhs.costUSD, modelCalls: lhs.modelCalls + rhs.modelCalls)
    }
}
