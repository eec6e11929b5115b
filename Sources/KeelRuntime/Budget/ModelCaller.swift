import Foundation
import KeelCore

/// Makes governed model calls for agents and pipelines: the budget check and reservation before,
/// retries and a timeout around, the journal step (in a durable run) and the settlement after.
struct ModelCaller: Sendable {
    let model: any ChatModel
    let spend: SpendControls?
    let retry: RetryPolicy
    let modelTimeout: Duration?
    let random: @Sendable () -> Double
    let clock: any Clock<Duration>
    let runID: String
    /// What the run has spent so far (replayed steps included).
    private(set) var runSpent = Spend.zero

    /// Counts spending outside model calls (tools that cost money).
    mutating func add(_ spend: Spend) {
        runSpent += spend
    }

    init(
        model: any ChatModel, spend: SpendControls?, retry: RetryPolicy, modelTimeout: Duration?, random: @escaping @Sendable () -> Double,
        clock: any Clock<Duration>, runID: String
    ) {
        self.model = model
        self.spend = spend
        self.retry = retry
        self.modelTimeout = modelTimeout
        self.random = random
        self.clock = clock
        self.runID = runID
    }

    /// Calls the model — as the journal step `stepName` of `context` when given — and returns the
    /// reply and (in memory) its latency. Throws ``BudgetExceeded`` before calling when the
    /// request could break a budget; a replayed step is not checked or charged again.
    mutating func call(
        _ request: ChatRequest, stepName: String, context: RunContext?, streaming: Bool, observer: (@Sendable (AgentEvent) -> Void)?
    ) async throws -> (ChatResponse, Duration?) {
        let identifier = model.identifier
        var admission: SpendAdmission?
        if context?.nextJournaledStepName == nil, let spend, spend.isLimited {
            admission = try await spend.admit(request, model: identifier, runID: runID, runSpent: runSpent)
        }
        let response: ChatResponse
        var latency: Duration?
        let settles = admission?.reservation != nil && context.map { spend?.ledger as AnyObject === $0.store as AnyObject } == true
        do {
            if let context {
                let prices = spend?.prices ?? .defaults
                response = try await context.step(
                    at: context.reserveSequences(1).lowerBound, stepName, kind: .model,
                    metering: { response in
                        let served = response.servedBy ?? identifier
                        return StepMetering(model: served, usage: response.usage, costUSD: prices.cost(of: response.usage, model: served))
                    },
                    retry: retry, random: random, settling: settles ? admission?.reservation : nil
                ) { attempt in
                    try await attemptCall(request, attempt: attempt, streaming: streaming, observer: observer)
                }
            } else {
                (response, latency) = try await measureThrowing(on: clock) {
                    try await retry.run(clock: clock, random: random) { attempt in
                        try await attemptCall(request, attempt: attempt, streaming: streaming, observer: observer)
                    }
                }
            }
        } catch {
            if let admission, let spend { try? await spend.cancel(admission) }
            throw error
        }
        let spent = spend?.spend(of: response.usage, model: response.servedBy ?? identifier) ?? Spend(tokens: response.usage.totalTokens)
        runSpent += spent
        if let admission, let spend {
            try await spend.settle(admission, actual: spent, runID: runID, runSpentAfter: runSpent, alreadySettled: settles)
        }
        return (response, latency)
    }

    /// One attempt: attempt N may have its request changed by the retry policy, and the call may
    /// be bounded by the model timeout.
    private func attemptCall(
        _ request: ChatRequest, attempt: Int, streaming: Bool, observer: (@Sendable (AgentEvent) -> Void)?
    ) async throws -> ChatResponse {
        let request = attempt > 1 ? (retry.adjust?(attempt, request) ?? request) : request
        let model = self.model
        let call: @Sendable () async throws -> ChatResponse = {
            guard streaming else { return try await model.respond(to: request) }
            return try await model.stream(request) { event in
                if case .textDelta(let text) = event { observer?(.textDelta(text)) }
            }
        }
        guard let modelTimeout else { return try await call() }
        return try await withTimeout(
            modelTimeout, clock: clock,
            onTimeout: ModelError(.timeout, message: "\(model.identifier) gave no complete answer within \(modelTimeout.formattedSeconds)"), call)
    }
}

/// Runs `body` and returns its value with the time it took on `clock`.
func measureThrowing<T>(on clock: any Clock<Duration>, _ body: () async throws -> T) async throws -> (T, Duration) {
    if clock is ContinuousClock {
        // The common case, without boxing instants in existentials.
        let start = ContinuousClock.now
        let value = try await body()
        return (value, start.duration(to: .now))
    }
    let start = currentInstant(of: clock)
    let value = try await body()
    return (value, elapsedSince(start, on: clock))
}
