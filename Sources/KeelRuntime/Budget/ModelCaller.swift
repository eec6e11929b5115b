import Foundation
import KeelCore
import Logging
import Synchronization
import Tracing

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
    /// The model's identifier, the models that may serve a call (a fallback chain's), and the
    /// model's own price: the same for every call of a run, so found once.
    private let identifier: String
    private let candidates: [String]
    private let ownPrice: ModelPrice?
    /// Whether `clock` is the `ContinuousClock` (most runs), asked once rather than per call.
    private let isContinuousClock: Bool
    /// What the run has spent so far (replayed steps included), model calls and tools that cost
    /// money.
    var runSpent = Spend.zero

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
        identifier = model.identifier
        candidates = servingModels(of: model)
        ownPrice = (spend?.prices ?? .defaults).price(for: identifier)
        isContinuousClock = clock is ContinuousClock
    }

    /// Calls the model as the journal step `stepName` of `context` and returns the reply and,
    /// unless the step was replayed, how long it took. Throws ``BudgetExceeded`` before calling
    /// when the request could break a budget; a replayed step is not checked or charged again.
    ///
    /// Attempts that failed after the provider accepted them (``KeelCore/ModelError/billing``) are
    /// metered too: with the usage the provider reported, or at the call's worst case when it did
    /// not. They are part of the usage of the reply that follows them (and so of its journal
    /// entry), or counted against the budgets when no reply follows. While the call runs, its
    /// tenant reservation is renewed, so it lasts as long as the call.
    mutating func call(
        _ request: ChatRequest, stepName: String, context: RunContext, streaming: Bool, observer: (@Sendable (AgentEvent) -> Void)?
    ) async throws -> (ChatResponse, Duration?) {
        let (identifier, candidates, ownPrice) = (identifier, candidates, ownPrice)
        let replaying = context.nextJournaledStepName != nil
        // What this step's attempts were billed before, when it failed in an earlier process: the
        // run has spent it (see journalBilled), replayed or not.
        runSpent += context.meteredSpend(ofBilledAttemptsAt: context.nextSequence)
        var admission: SpendAdmission?
        var countedInput: Int?
        if !replaying, let spend, spend.isLimited {
            countedInput = await providerCount(of: request)
            do {
                admission = try await spend.admit(request, models: candidates, countedInput: countedInput, runID: runID, runSpent: runSpent)
            } catch let refusal as BudgetExceeded {
                context.metrics?.budgetStop()
                throw refusal
            }
        }
        let billed = BilledAttempts(controls: spend, request: request, models: candidates)
        let readmit = readmission(admission, request: request, countedInput: countedInput, billed: billed)
        let response: ChatResponse
        var latency: Duration?
        let settles = admission?.reservation != nil && spend?.ledger as AnyObject === context.store as AnyObject
        let sequence = context.reserveSequences(1).lowerBound
        let prices = spend?.prices ?? .defaults
        // The price of the model that served a call: the caller's own is found once per call, not
        // looked up again.
        let price: @Sendable (String) -> ModelPrice? = { served in served == identifier ? ownPrice : prices.price(for: served) }
        do {
            (response, latency) = try await renewing(admission?.reservation, and: readmit) {
                try await measureThrowing(on: clock, isContinuous: isContinuousClock) {
                    try await context.step(
                        at: sequence, stepName, kind: .model,
                        metering: { response in
                            let served = response.servedBy ?? identifier
                            return StepMetering(model: served, usage: response.usage, costUSD: price(served)?.cost(of: response.usage))
                        },
                        retry: retry, random: random, effects: { _ in StepEffects(settling: settles ? admission?.reservation : nil) }
                    ) { attempt in
                        try await readmit.beforeAttempt(attempt)
                        return try await attemptCall(
                            request, attempt: attempt, streaming: streaming, observer: observer, billed: billed, tracer: context.tracer,
                            metrics: context.metrics)
                    }
                }
            }
            if replaying { latency = nil }
        } catch {
            // What the failed attempts were billed counts against the budgets all the same. The
            // call's own reservation is settled before the retries' extra ones are released: in
            // between, the tenant's ledger would hold less than the call spent, and a parallel
            // call could be admitted into room that is not there.
            if !(error is RunSuspension) { context.metrics?.modelCallFailed(model: identifier, error: error) }
            let failed = billed.spend
            runSpent += failed
            if let reservation = admission?.reservation, let spend { try? await spend.ledger.settle(reservation, actual: failed) }
            await readmit.releaseHeld(spend?.ledger)
            if billed.failures > 0, !(error is RunSuspension) {
                await journalBilled(billed, of: stepName, at: sequence, in: context)
            }
            throw error
        }
        let spent = spend?.spend(of: response.usage, model: response.servedBy ?? identifier) ?? Spend(tokens: response.usage.totalTokens)
        runSpent += spent
        if !replaying, let metrics = context.metrics {
            // Priced as the journal prices it, so that the counters add up to `keel costs`.
            let served = response.servedBy ?? identifier
            let cost = price(served)?.cost(of: response.usage) ?? 0
            metrics.modelCall(model: served, usage: response.usage, costUSD: cost, latency: latency)
        }
        // Settled first, then the retries' extra reservations released (see above).
        do {
            if let admission, let spend {
                try await spend.settle(admission, actual: spent, runID: runID, runSpentAfter: runSpent, alreadySettled: settles)
            }
        } catch {
            await readmit.releaseHeld(spend?.ledger)
            throw error
        }
        await readmit.releaseHeld(spend?.ledger)
        return (response, latency)
    }

    /// Journals what the failed attempts of the step at `sequence` were billed, as a step of a
    /// scope of their own beside it (`billed-<position>`, one step per time the step failed), so
    /// that the run's spending counts them: its budget after a resume, and `keel costs`. Replay
    /// never asks for that scope. Best effort: the step's own failure is what the run reports.
    private func journalBilled(_ billed: BilledAttempts, of stepName: String, at sequence: Int, in context: RunContext) async {
        let (usage, costUSD, failures) = billed.totals
        let model = identifier
        do {
            let ledger = try context.scope("billed-\(sequence)")
            while ledger.isReplaying { _ = ledger.reserveSequences(1) }
            _ = try await ledger.step("billed-\(stepName)", kind: .model, metering: { _ in StepMetering(model: model, usage: usage, costUSD: costUSD) }) {
                failures
            }
        } catch {
            context.logger.warning(
                "the billed attempts of a failed model step could not be journaled", metadata: ["step": "\(stepName)", "error": "\(error)"])
        }
    }

    /// The check before each retry: a retry after an attempt the provider billed is a new call
    /// with a new worst case, so it must fit the run's cap after what was billed, and it holds a
    /// reservation of its own against the tenant's — or the caps could be passed by retries.
    private func readmission(_ admission: SpendAdmission?, request: ChatRequest, countedInput: Int?, billed: BilledAttempts) -> Readmission {
        guard admission != nil, let spend, spend.isLimited else { return .none }
        let (spentBefore, runID, models) = (runSpent, runID, candidates)
        return Readmission { held in
            // The same admission as the first attempt's, after what the billed attempts cost.
            let again = try await spend.admit(request, models: models, countedInput: countedInput, runID: runID, runSpent: spentBefore + billed.spend)
            if let reservation = again.reservation { held(reservation) }
        } billedFailures: {
            billed.failures
        }
    }

    /// Runs `body` while renewing `reservation` — and the extra reservations that retries after
    /// billed attempts hold (`readmission`) — every third of the reservation lifetime, so that a
    /// call longer than the lifetime keeps its amounts held. A renewal that fails harms nothing but
    /// that hold: the call goes on.
    private func renewing<T: Sendable>(_ reservation: SpendReservation?, and readmission: Readmission, _ body: () async throws -> T) async throws -> T {
        guard let reservation, let spend else { return try await body() }
        let ledger = spend.ledger
        let lifetime = spend.reservationLifetime
        let clock = self.clock
        let renewal = Task {
            var lapsed: Set<SpendReservation> = []
            while !Task.isCancelled {
                try? await clock.sleep(for: lifetime / 3)
                guard !Task.isCancelled else { return }
                for held in [reservation] + readmission.held where !lapsed.contains(held) {
                    // A reservation the ledger no longer knows (settled, or lapsed) is left alone.
                    if (try? await ledger.renew(held, ttl: lifetime)) == false { lapsed.insert(held) }
                }
                if lapsed.contains(reservation) { return }
            }
        }
        defer { renewal.cancel() }
        return try await body()
    }

    /// One attempt: attempt N may have its request changed by the retry policy, and the call may
    /// be bounded by the model timeout. A failure the provider may have billed is counted in
    /// `billed` before it is thrown.
    private func attemptCall(
        _ request: ChatRequest, attempt: Int, streaming: Bool, observer: (@Sendable (AgentEvent) -> Void)?, billed: BilledAttempts,
        tracer: (any Tracer)?, metrics: KeelMetrics?
    ) async throws -> ChatResponse {
        let request = attempt > 1 ? (retry.adjust?(attempt, request) ?? request) : request
        return try await traced(tracer, "chat \(model.name)", kind: .client) { span in
            span.map { describe($0, request, attempt: attempt) }
            let response = try await attemptCall(request, streaming: streaming, observer: observer, billed: billed, metrics: metrics)
            span.map { describe($0, response) }
            return response
        }
    }

    /// The GenAI attributes of a model call's span, from its request.
    private func describe(_ span: any Span, _ request: ChatRequest, attempt: Int) {
        span.attributes[SpanName.operation] = "chat"
        span.attributes[SpanName.provider] = model.provider
        span.attributes[SpanName.requestModel] = model.name
        span.attributes[SpanName.maxTokens] = request.maxOutputTokens
        if let temperature = request.temperature { span.attributes[SpanName.temperature] = temperature }
        span.attributes[SpanName.runID] = runID
        span.attributes[SpanName.attempt] = attempt
        if TraceContent.isRecorded { span.attributes[SpanName.inputMessages] = TraceContent.json(request.messages) }
    }

    /// The GenAI attributes of a model call's span, from its reply.
    private func describe(_ span: any Span, _ response: ChatResponse) {
        if let id = response.id { span.attributes[SpanName.responseID] = id }
        span.attributes[SpanName.responseModel] = response.model ?? response.servedBy ?? model.name
        span.attributes[SpanName.finishReasons] = [response.finishReason.description]
        span.record(response.usage)
        if TraceContent.isRecorded { span.attributes[SpanName.outputMessages] = TraceContent.json([.assistant(response.message)]) }
    }

    private func attemptCall(
        _ request: ChatRequest, streaming: Bool, observer: (@Sendable (AgentEvent) -> Void)?, billed: BilledAttempts, metrics: KeelMetrics?
    ) async throws -> ChatResponse {
        let model = self.model
        let call: @Sendable () async throws -> ChatResponse = {
            guard streaming else { return try await model.respond(to: request) }
            return try await model.stream(request) { event in
                if case .textDelta(let text) = event { observer?(.textDelta(text)) }
            }
        }
        do {
            var response: ChatResponse
            if let modelTimeout {
                var timedOut = ModelError(.timeout, message: "\(model.identifier) gave no complete answer within \(modelTimeout.formattedSeconds)")
                // The request was sent: the provider may be generating, and bills for it.
                timedOut.billing = .unknown
                response = try await withTimeout(modelTimeout, clock: clock, onTimeout: timedOut, call)
            } else {
                response = try await call()
            }
            // A reply without usage is never counted as free: its usage is estimated.
            if response.usage.isEmpty { response.usage = estimatedUsage(of: request, reply: response) }
            // The reply's usage is what the call cost: the billed attempts before it included.
            response.usage += billed.usage
            return response
        } catch let error as ModelError {
            billed.record(error.billing)
            if error.code == .rateLimited { metrics?.rateLimited(model: model.identifier) }
            throw error
        }
    }
}

extension ModelCaller {
    /// The provider's count of `request`'s input, when the model (or the one a rate limiter
    /// wraps) counts its tokens and is configured to: one round trip. `nil` otherwise, or when
    /// the count fails — the budgets then use the estimate, as without it.
    func providerCount(of request: ChatRequest) async -> Int? {
        let counting = (model as? any TokenCountingModel) ?? ((model as? RateLimitedModel)?.inner as? any TokenCountingModel)
        guard let counting, counting.countsInputTokens else { return nil }
        do {
            return try await counting.countInputTokens(request)
        } catch {
            Self.logger.warning("the provider's token count failed; the budget uses the estimate", metadata: ["model": "\(identifier)", "error": "\(error)"])
            return nil
        }
    }

    /// The usage of a reply that carried none (a stream without its usage chunk, a server that
    /// leaves it out): the request and the reply counted as the serving model counts (with the
    /// controls' own counter when they have one), marked estimated — and said in the log.
    func estimatedUsage(of request: ChatRequest, reply: ChatResponse) -> Usage {
        let served = reply.servedBy ?? identifier
        let counter = try? (spend ?? SpendControls()).counter(for: [served])
        // Without a tokenizer (its vocabulary missing), four bytes a token.
        let count = counter?.count ?? { ($0.utf8.count + 3) / 4 }
        let usage = Usage.estimate(of: request, reply: reply.message, countedWith: count)
        Self.logger.warning(
            "the reply carried no usage: its tokens are estimated",
            metadata: ["model": "\(served)", "input_tokens": "\(usage.inputTokens)", "output_tokens": "\(usage.outputTokens)"])
        return usage
    }

    static let logger = Logger(label: "keel.model")
}

/// The models that may serve a call to `model`: the links of a fallback chain (through rate
/// limiters), or the model itself.
func servingModels(of model: any ChatModel) -> [String] {
    switch model {
    case let chain as FallbackModel: chain.models.flatMap(servingModels(of:))
    case let limited as RateLimitedModel: servingModels(of: limited.inner)
    default: [model.identifier]
    }
}

/// Re-admits the retries of one call that follow billed attempts (see `readmission`), and holds the
/// extra reservations they take until the call ends: what the call cost is settled once, on its
/// first reservation, and the extra ones are then released.
final class Readmission: Sendable {
    /// No check: a call without a budget to re-admit against (one instance for all of them).
    static let none = Readmission(check: nil)

    private let check: (@Sendable (_ held: @Sendable (SpendReservation) -> Void) async throws -> Void)?
    private let billedFailures: @Sendable () -> Int
    private let state = Mutex((checked: 0, held: [SpendReservation]()))

    init(check: (@Sendable (_ held: @Sendable (SpendReservation) -> Void) async throws -> Void)?, billedFailures: @escaping @Sendable () -> Int = { 0 }) {
        self.check = check
        self.billedFailures = billedFailures
    }

    /// Before attempt `attempt`: after each billed failure, once, the check.
    func beforeAttempt(_ attempt: Int) async throws {
        guard attempt > 1, let check else { return }
        let failures = billedFailures()
        guard state.withLock({ $0.checked < failures }) else { return }
        state.withLock { $0.checked = failures }
        try await check { reservation in self.state.withLock { $0.held.append(reservation) } }
    }

    /// The extra reservations held now.
    var held: [SpendReservation] { state.withLock { $0.held } }

    /// Releases the extra reservations (their amount is in the call's settlement).
    func releaseHeld(_ ledger: (any SpendLedger)?) async {
        let held = state.withLock { state in
            defer { state.held = [] }
            return state.held
        }
        guard let ledger else { return }
        for reservation in held { try? await ledger.settle(reservation, actual: .zero) }
    }
}

/// What the failed attempts of one model call were billed: the usage a provider reported, or the
/// call's worst case when it did not, priced at the highest price of the models that may have
/// served it.
final class BilledAttempts: Sendable {
    /// The run's spending controls, if it has any (the defaults price a billed failure otherwise).
    private let controls: SpendControls?
    private let request: ChatRequest
    private let models: [String]
    private let state = Mutex((usage: Usage.zero, costUSD: 0.0, failures: 0))

    init(controls: SpendControls?, request: ChatRequest, models: [String]) {
        self.controls = controls
        self.request = request
        self.models = models
    }

    func record(_ billing: ModelError.Billing) {
        let usage: Usage
        let controls = self.controls ?? SpendControls()
        switch billing {
        case .notBilled: return
        case .usage(let reported) where reported.isPlausible: usage = reported
        case .usage, .unknown: usage = (try? controls.worstUsage(of: request, models: models)) ?? Usage(outputTokens: request.maxOutputTokens)
        }
        let cost = models.compactMap { controls.prices.cost(of: usage, model: $0) }.max() ?? 0
        state.withLock { state in
            state.usage += usage
            state.costUSD += cost
            state.failures += 1
        }
    }

    /// What the failed attempts were billed, and how many there were.
    var totals: (usage: Usage, costUSD: Double, failures: Int) {
        state.withLock { ($0.usage, $0.costUSD, $0.failures) }
    }

    /// What the failed attempts cost.
    var spend: Spend {
        state.withLock { Spend(tokens: $0.usage.totalTokens, costUSD: $0.costUSD) }
    }

    /// How many attempts failed after being billed.
    var failures: Int {
        state.withLock { $0.failures }
    }

    /// The tokens the failed attempts used.
    var usage: Usage {
        state.withLock { $0.usage }
    }
}

/// Runs `body` and returns its value with the time it took on `clock` (`isContinuous`: whether
/// `clock` is the `ContinuousClock`, found once by the caller).
func measureThrowing<T>(on clock: any Clock<Duration>, isContinuous: Bool, _ body: () async throws -> T) async throws -> (T, Duration) {
    if isContinuous {
        // The common case, without boxing instants in existentials.
        let start = ContinuousClock.now
        let value = try await body()
        return (value, start.duration(to: .now))
    }
    let start = currentInstant(of: clock)
    let value = try await body()
    return (value, elapsedSince(start, on: clock))
}
