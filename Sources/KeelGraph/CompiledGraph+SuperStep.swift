import Foundation
import KeelCore
import KeelRuntime

extension CompiledGraph {
    /// One task of a super-step: a node, its branch index for a send, and its scope's name.
    struct Planned: Sendable {
        let task: SuperStepRecord.Task
        let branch: Int?
        let scope: String
    }

    /// The tasks of super-step `index` with their branch indexes and scope names: `s3.node`, or
    /// `s3.node.2` for the third send to `node`.
    func plan(_ index: Int, _ tasks: [SuperStepRecord.Task]) -> [Planned] {
        var branches: [String: Int] = [:]
        return tasks.map { task -> Planned in
            guard task.input != nil else { return Planned(task: task, branch: nil, scope: "s\(index).\(task.node)") }
            let branch = branches[task.node, default: 0]
            branches[task.node] = branch + 1
            return Planned(task: task, branch: branch, scope: "s\(index).\(task.node).\(branch)")
        }
    }

    /// Runs the super-step `index`: its nodes concurrently in their scopes (opened by the caller,
    /// one per planned task), their updates merged in order, the next tasks routed. Returns the
    /// record to journal and the new state.
    func runSuperStep(
        _ index: Int, _ progress: Progress, planned: [Planned], scopes: [RunContext], snapshot: Bool, in context: RunContext,
        observer: (@Sendable (GraphEvent) -> Void)?
    ) async throws -> (SuperStepRecord, Fields) {
        let current = try state(progress.state, after: "super-step \(index - 1)")
        observer?(.superStepStarted(index: index, nodes: planned.map(\.task.node)))
        let byScope = Dictionary(planned.map { (context.address(of: $0.scope), $0) }, uniquingKeysWith: { first, _ in first })
        let updates = try await context.branches(scopes, limit: options.maxConcurrency) { scope in
            guard let task = byScope[scope.scope], let node = nodes[task.task.node] else {
                throw GraphError(.invalidGraph, "super-step \(index) of run '\(context.runID)' has the scope '\(scope.scope)', which is not a node of this graph")
            }
            return try await run(node, task, first: scope, superStep: index, state: current, in: context, observer: observer)
        }
        // Updates apply by node name, then branch index: the same order on every run.
        let ordered = zip(planned, updates).sorted { ($0.0.task.node, $0.0.branch ?? -1) < ($1.0.task.node, $1.0.branch ?? -1) }
        var state = progress.state
        var applied: [SuperStepRecord.NodeUpdate] = []
        var ran: [String] = []
        for (task, update) in ordered {
            try apply(update, from: "node '\(task.task.node)'", to: &state)
            if !update.isEmpty { applied.append(SuperStepRecord.NodeUpdate(node: task.task.node, branch: task.branch, update: update)) }
            if !ran.contains(task.task.node) { ran.append(task.task.node) }
        }
        let next = try routes(from: ran, state: try self.state(state, after: "super-step \(index)"))
        return (SuperStepRecord(ran: ran, updates: applied, next: next, state: snapshot ? .object(state) : nil), state)
    }

    /// Runs one node, retrying it alone under its policy. Attempt `n` runs in the scope
    /// `s3.node~n` (the first in `s3.node`), and a failed attempt is journaled in `s3.node~n!`, so
    /// that a resumed run skips the attempts that failed and gives the node new ones.
    private func run(
        _ node: StateGraph<State>.Node, _ planned: Planned, first: RunContext, superStep: Int, state: State, in context: RunContext,
        observer: (@Sendable (GraphEvent) -> Void)?
    ) async throws -> StateUpdate {
        var attempt = 1
        var tries = 0
        while true {
            let scope = attempt == 1 ? first : try context.scope("\(planned.scope)~\(attempt)")
            let marker = try context.scope("\(planned.scope)~\(attempt)!")
            if marker.nextJournaledStepName == "failed" {
                attempt += 1
                continue
            }
            tries += 1
            observer?(.nodeStarted(node: node.name, branch: planned.branch, attempt: attempt))
            do {
                let update = try await node.body(
                    state,
                    NodeContext(
                        node: node.name, branch: planned.branch, superStep: superStep, attempt: attempt, run: scope, input: planned.task.input,
                        observer: observer))
                observer?(.nodeFinished(node: node.name, branch: planned.branch, update: update))
                return update
            } catch {
                guard node.retry.retryIf(error) else { throw error }
                let willRetry = tries < node.retry.maxAttempts
                let reason = String(describing: error)
                _ = try await marker.step("failed") { reason }
                observer?(.nodeFailed(node: node.name, branch: planned.branch, attempt: attempt, error: reason, willRetry: willRetry))
                guard willRetry else { throw error }
                try await Task.sleep(for: node.retry.backoff * (1 << min(tries - 1, 16)))
                attempt += 1
            }
        }
    }

    /// The tasks of the next super-step after `ran`: the targets of their edges (each node once)
    /// and their routers' choices, then the sends in the order they were made.
    func routes(from ran: [String], state: State) throws -> [SuperStepRecord.Task] {
        var targets: [String] = []
        var sends: [SuperStepRecord.Task] = []
        func add(_ node: String) {
            if node != END, !targets.contains(node) { targets.append(node) }
        }
        for node in ran {
            for edge in definition.edges where edge.from == node { add(edge.to) }
            for edge in definition.conditionalEdges where edge.from == node {
                for route in try edge.router(state) {
                    guard edge.targets.contains(route.node) else {
                        throw GraphError(
                            .undeclaredTarget,
                            "the router of '\(node)' chose '\(route.node)', which is not among its declared targets (\(edge.targets.joined(separator: ", ")))",
                            node: node)
                    }
                    if let input = route.input {
                        if route.node != END { sends.append(SuperStepRecord.Task(node: route.node, input: input)) }
                    } else {
                        add(route.node)
                    }
                }
            }
        }
        return targets.map { SuperStepRecord.Task(node: $0, input: nil) } + sends
    }
}
