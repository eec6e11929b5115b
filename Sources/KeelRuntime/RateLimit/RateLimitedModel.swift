import KeelCore

/// A model that waits for its limiter (a ``RateLimiting``, such as ``RateLimiter``) before every call and feeds the provider's
/// rate-limit headers back into it, so that every run sharing the limiter paces itself before
/// the provider answers 429.
///
/// ```swift
/// let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 500, tokensPerMinute: 200_000))
/// let model = RateLimitedModel(OpenAIChatModel(name: "gpt-4o-mini"), limiter: limiter)
/// ```
public struct RateLimitedModel: ChatModel {
    public let inner: any ChatModel
    public let limiter: any RateLimiting
    /// The longest a call may wait for its turn before failing as rate limited (so that a fallback
    /// can take over). Default: none (wait as long as needed).
    public var maxWait: Duration?
    /// Counts a request's tokens for the token bucket. Default:
    /// ``KeelCore/ChatRequest/estimatedRateLimitTokens``.
    public var countTokens: @Sendable (ChatRequest) -> Int

    public var provider: String { inner.provider }
    public var name: String { inner.name }

    public init(_ inner: any ChatModel, limiter: any RateLimiting, maxWait: Duration? = nil, countTokens: (@Sendable (ChatRequest) -> Int)? = nil) {
        self.inner = inner
        self.limiter = limiter
        self.maxWait = maxWait
        self.countTokens = countTokens ?? { $0.estimatedRateLimitTokens }
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        try await acquire(for: request)
        do {
            let response = try await inner.respond(to: request)
            if let snapshot = response.rateLimit { await limiter.observe(snapshot) }
            return response
        } catch let error as ModelError {
            if let snapshot = error.rateLimit { await limiter.observe(snapshot) }
            if error.code == .rateLimited, let retryAfter = error.retryAfter, error.rateLimit?.retryAfter == nil {
                await limiter.observe(RateLimitSnapshot(retryAfter: retryAfter))
            }
            throw error
        }
    }

    public func stream(_ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void) async throws -> ChatResponse {
        try await acquire(for: request)
        do {
            let response = try await inner.stream(request, onEvent: onEvent)
            if let snapshot = response.rateLimit { await limiter.observe(snapshot) }
            return response
        } catch let error as ModelError {
            if let snapshot = error.rateLimit { await limiter.observe(snapshot) }
            throw error
        }
    }

    /// Waits for the limiter; a wait longer than a millisecond is recorded as a metric.
    private func acquire(for request: ChatRequest) async throws {
        let started = ContinuousClock.now
        try await limiter.acquire(tokens: countTokens(request), maxWait: maxWait)
        let waited = ContinuousClock.now - started
        if waited > .milliseconds(1) { KeelMetrics.active()?.rateLimiterWait(model: inner.identifier, waited) }
    }
}
