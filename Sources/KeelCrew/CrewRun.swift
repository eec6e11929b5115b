import Foundation
import KeelCore
import KeelRuntime

/// One kickoff of a crew: its agents and tasks with the inputs filled in, and how each task runs.
struct CrewRun: Sendable {
    let crew: Crew
    let agents: [String: CrewAgent]
    let tasks: [CrewTask]
    let manager: CrewAgent?

    init(crew: Crew, inputs: [String: String]) throws {
        self.crew = crew
        var agents: [String: CrewAgent] = [:]
        for agent in crew.agents { agents[agent.key] = try agent.rendered(inputs) }
        self.agents = agents
        tasks = try crew.tasks.map { task in
            var task = task
            task.description = try CrewTemplate.render(task.description, inputs, field: "task \(task.name): description")
            task.expectedOutput = try CrewTemplate.render(task.expectedOutput, inputs, field: "task \(task.name): expected_output")
            task.outputFile = try task.outputFile.map { try CrewTemplate.render($0, inputs, field: "task \(task.name): output_file") }
            return task
        }
        if case .hierarchical(let manager) = crew.process { self.manager = try manager.agent.rendered(inputs) } else { manager = nil }
    }

    /// The scope of task `index` done by `agent`: `task-<n>-<name>@<agent>`.
    static func scopeName(task index: Int, name: String, agent: String) -> String {
        UsageByAgent.scopeName("task-\(index + 1)-\(name.map { $0 == "/" || $0 == "@" ? "_" : $0 }.map(String.init).joined())", agent: agent)
    }

    /// The task a scope name of ``scopeName(task:name:agent:)`` belongs to.
    static func taskName(ofScope scope: Substring) -> String? {
        guard scope.hasPrefix("task-") else { return nil }
        let body = scope.dropFirst(5).prefix { $0 != "@" }
        guard let dash = body.firstIndex(of: "-") else { return nil }
        return String(body[body.index(after: dash)...])
    }

    /// Runs task `index` as the step at `position` of `context` (replayed when it is journaled).
    func task(_ index: Int, at position: Int, after earlier: [TaskOutput], in context: RunContext) async throws -> TaskOutput {
        let task = tasks[index]
        let worker = manager ?? task.agent.flatMap { agents[$0] }
        guard let worker else { throw CrewError("the task \(task.name) has no agent") }
        if !context.isJournaled(at: position) { crew.observer?(.taskStarted(task: task.name, agent: worker.key)) }
        var ran = false
        let output = try await context.step(at: position, "task:\(task.name)") {
            ran = true
            let scope = try context.scope(Self.scopeName(task: index, name: task.name, agent: worker.key))
            return try await perform(task, by: worker, context: contextText(for: task, after: earlier), in: scope)
        }
        crew.observer?(.taskFinished(output, replayed: !ran))
        return output
    }

    /// The outputs a task reads: those its `context` names, or every earlier one.
    func contextText(for task: CrewTask, after earlier: [TaskOutput]) -> String {
        let chosen = task.context.map { names in earlier.filter { names.contains($0.task) } } ?? earlier
        return chosen.map(\.raw).joined(separator: "\n\n----------\n\n")
    }

    /// Does `task` with `worker` in `scope`: the agent's loop, its guardrail, a person's review,
    /// the output file.
    private func perform(_ task: CrewTask, by worker: CrewAgent, context: String, in scope: RunContext) async throws -> TaskOutput {
        var agent = makeAgent(worker, delegatesTo: coworkers(of: worker))
        if let guardrail = task.guardrail { agent.outputGuardrails = [guardrail] }
        let contract = task.outputSchema.map { OutputContract(name: task.name, schema: $0) }
        var loop = AgentLoop(
            instructions: agent.instructions, prompt: task.prompt(context: context), tools: agent.toolDefinitions, configuration: agent.configuration,
            output: contract)
        var result = try await agent.run(&loop, in: scope)
        var revisions = 0
        while task.humanInput, case .completed = result.outcome {
            let signal = "review:\(scope.scope)#\(revisions + 1)"
            if !scope.isReplaying { crew.observer?(.awaitingReview(task: task.name, signal: signal)) }
            let review = try await scope.waitForSignal(signal, as: TaskReview.self)
            guard !review.accepts else { break }
            revisions += 1
            _ = loop.handle(.answerRejected(reason: "a person reviewed it and said: \(review.feedback ?? "not accepted").".replacingOccurrences(of: "..", with: ".")))
            result = try await agent.run(&loop, in: scope)
        }
        var output = TaskOutput(
            task: task.name, agent: worker.key, raw: result.answer ?? "", json: nil, outcome: result.outcome.kind, problem: nil, revisions: revisions)
        switch result.outcome {
        case .completed(let answer):
            if let contract, case .success(let json) = contract.check(answer) { output.json = json }
        case .guardrailTripped(let trip):
            output.problem = trip.description
        case .invalidOutput(let invalid):
            output.problem = invalid.description
        default:
            output.problem = "the agent's run ended with \(result.outcome.kind)"
        }
        if output.isCompleted, let file = task.outputFile, let directory = crew.outputDirectory {
            try CrewFiles.write(output.raw, to: file, in: directory)
        }
        return output
    }

    /// The members `worker` may delegate to: every other member, never itself or the manager.
    private func coworkers(of worker: CrewAgent) -> [CrewAgent] {
        guard worker.allowDelegation else { return [] }
        return crew.agents.compactMap { agents[$0.key] }.filter { $0.key != worker.key }
    }

    /// The runtime agent for a crew member.
    func makeAgent(_ member: CrewAgent, delegatesTo coworkers: [CrewAgent]) -> Agent {
        var configuration = AgentConfiguration()
        configuration.maxSteps = max(1, member.maxIterations)
        var controls = crew.controls
        if let limit = member.maxExecutionTime { controls.deadline = Date().addingTimeInterval(limit.timeInterval) }
        var model = member.model ?? crew.model
        for (key, limit) in [("crew", crew.maxRequestsPerMinute), ("agent:\(member.key)", member.maxRequestsPerMinute)] {
            guard let limit, limit > 0 else { continue }
            let limiter = crew.rateLimiters.limiter(for: "keel.crew.\(key)", limits: RateLimits(requestsPerMinute: limit))
            model = RateLimitedModel(model, limiter: limiter)
        }
        let tools = member.tools + (coworkers.isEmpty ? [] : Delegation.tools(coworkers: coworkers, run: self))
        return Agent(name: member.key, model: model, instructions: member.instructions, tools: tools, configuration: configuration, controls: controls)
    }
}
