import KeelCore

/// How a step is retried: how many attempts, how long to wait between them, on which errors, and
/// how attempt N may change what it sends.
///
/// Waits are exponential with full jitter — a random time between zero and
/// `initialBackoff × 2^(attempt-1)`, at most ``maxBackoff`` — and never shorter than a
/// provider's `Retry-After`.
///
/// ```swift
/// var retry = RetryPolicy(maxAttempts: 4)
/// retry.adjust = { attempt, request in
///     var request = request
///     request.temperature = 0  // more conservative after a malformed reply
///     return request
/// }
/// ```
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included. Default: 3.
    public var maxAttempts: Int
    /// The backoff scale. Default: 0.5 seconds.
    public var initialBackoff: Duration
    /// The longest wait between attempts (a `Retry-After` may ask for longer). Default: 30 seconds.
    public var maxBackoff: Duration
    /// The model error classes worth another attempt. Default: rate limited, overloaded, server,
    /// timeout, connection and malformed response.
    public var retryOn: Set<ModelError.Code>
    /// The longest `Retry-After` honoured; a provider asking for more fails the attempt at once,
    /// so a fallback model can take over. Default: 2 minutes.
    public var maxRetryAfter: Duration
    /// Changes the request for attempt N (from 2). Default: none.
    public var adjust: (@Sendable (_ attempt: Int, _ request: ChatRequest) -> ChatRequest)?

    public init(
        maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30),
        retryOn: Set<ModelError.Code> = [.rateLimited, .overloaded, .server, .timeout, .connection, .malformedResponse],
        maxRetryAfter: Duration = .seconds(120), adjust: (@Sendable (Int, ChatRequest) -> ChatRequest)? = nil
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.retryOn = retryOn
        self.maxRetryAfter = maxRetryAfter
        self.adjust = adjust
    }

    /// One attempt, no retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Whether `error` after attempt `attempt` is worth another.
    public func shouldRetry(_ error: any Error, attempt: Int) -> Bool {
        guard attempt < maxAttempts, !(error is CancellationError) else { return false }
        guard let error = error as? ModelError else { return false }
        if let retryAfter = error.retryAfter, retryAfter > maxRetryAfter { return false }
        return retryOn.contains(error.code)
    }

    /// The wait before attempt `attempt + 1`: full jitter on the exponential backoff, at least the
    /// error's `Retry-After`. `random` is a number in 0…1 (injected for tests).
    public func delay(after error: any Error, attempt: Int, random: Double) -> Duration {
        let exponent = min(attempt - 1, 30)
        let ceiling = min(maxBackoff, initialBackoff * (1 << exponent))
        let jittered = ceiling * max(0, min(1, random))
        if let retryAfter = (error as? ModelError)?.retryAfter { return max(jittered, retryAfter) }
        return jittered
    }

    /// Runs `body` until it succeeds, the error is not retryable, or the attempts run out; waits
    /// on `clock` between attempts. `body` receives the attempt number, from 1.
    public func run<T>(
        clock: any Clock<Duration>, random: @Sendable () -> Double = { Double.random(in: 0...1) },
        _ body: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body(attempt)
            } catch {
                guard shouldRetry(error, attempt: attempt) else { throw error }
                let wait = delay(after: error, attempt: attempt, random: random())
                KeelMetrics.active()?.backoff(wait)
                try await clock.sleep(for: wait)
                attempt += 1
            }
        }
    }
}

extension Duration {
    fileprivate static func * (lhs: Duration, rhs: Int) -> Duration {
        lhs * Int64(rhs)
    }
}
