import KeelCore
import Synchronization

/// A provider's limits: requests and tokens per minute (the user's tier), and how Keel paces to
/// them.
///
/// Providers state their limits per minute but enforce them over shorter windows: a bucket that
/// held a whole minute of requests would send far more in its first second than the provider
/// accepts. So a bucket holds ``burstSeconds`` of refill (one second by default), and Keel aims at
/// ``utilization`` of the limit (97 % by default), leaving room for requests that arrive closer
/// together than they were sent.
public struct RateLimits: Sendable, Hashable, Codable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// How many seconds of refill a bucket holds: how far callers may run ahead of the steady
    /// rate after a quiet spell. `nil` means ``defaultBurstSeconds`` (1 s); bounded to 0.01…60.
    public var burstSeconds: Double?
    /// The share of the limits Keel aims at. `nil` means ``defaultUtilization`` (0.97); bounded to
    /// 0.1…1.
    public var utilization: Double?

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, burstSeconds: Double? = nil, utilization: Double? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.burstSeconds = burstSeconds
        self.utilization = utilization
    }

    /// Whether anything is limited.
    public var isLimited: Bool { requestsPerMinute != nil || tokensPerMinute != nil }

    /// One second of refill: what providers that enforce per-minute limits over short windows let
    /// through at once.
    public static let defaultBurstSeconds = 1.0
    /// 97 % of the limit.
    public static let defaultUtilization = 0.97

    /// ``burstSeconds`` within its bounds.
    public var burst: Double {
        guard let seconds = burstSeconds, seconds.isFinite else { return Self.defaultBurstSeconds }
        return min(60, max(0.01, seconds))
    }

    /// ``utilization`` within its bounds.
    public var share: Double {
        guard let utilization, utilization.isFinite else { return Self.defaultUtilization }
        return min(1, max(0.1, utilization))
    }

    /// The pace and size of the bucket for a limit of `perMinute`: units a second (the limit
    /// times ``share``) and the most it holds (``burst`` seconds of the limit, at least one).
    public func bucket(perMinute: Int) -> (perSecond: Double, capacity: Double) {
        let rate = Double(max(1, perMinute)) / 60
        return (rate * share, max(1, rate * burst))
    }

    /// OpenAI's tier-1 limits for small models, a safe start: 500 requests and 200,000 tokens a
    /// minute. Configure your own tier.
    public static let openAITier1 = RateLimits(requestsPerMinute: 500, tokensPerMinute: 200_000)
}

/// Pacing for one provider key: waits before each request until it fits the limits. The
/// in-process ``RateLimiter`` serves one process; a store can keep the buckets for many (such as
/// `PostgresRateLimiter` in KeelPostgres, shared by every worker).
public protocol RateLimiting: Sendable {
    var limits: RateLimits { get }
    /// Waits until a request of `tokens` tokens fits the limits, and takes its share; throws
    /// ``KeelCore/ModelError/Code/rateLimited`` at once when the wait would pass `maxWait`.
    func acquire(tokens: Int, maxWait: Duration?) async throws
    /// Gives back a share that was not used.
    func refund(tokens: Int) async
    /// Corrects the buckets from what the provider said (remaining requests and tokens, and a
    /// `Retry-After`).
    func observe(_ snapshot: RateLimitSnapshot) async
}

/// Token buckets for requests and tokens per minute, shared by every run that uses one provider
/// key: callers wait their turn *before* a request, so the 429 never comes. The buckets are
/// corrected from the provider's `x-ratelimit-remaining-*` headers, and a 429's `Retry-After`
/// pauses every caller.
///
/// Waiting is first come, first served: each caller takes its share at once, and when a bucket
/// goes below zero it waits until the bucket would have refilled to zero.
public final class RateLimiter: RateLimiting {
    public let limits: RateLimits
    /// The longest a `Retry-After` pauses callers. Default:
    /// ``KeelCore/RateLimitSnapshot/defaultLongestPause`` (two minutes).
    public let longestPause: Duration
    private let clock: any Clock<Duration>
    private let origin: any InstantProtocol<Duration>

    struct Bucket {
        var capacity: Double
        var level: Double
        var perSecond: Double

        init(_ shape: (perSecond: Double, capacity: Double), full: Bool) {
            capacity = shape.capacity
            level = full ? shape.capacity : 0
            perSecond = shape.perSecond
        }

        /// Takes the shape of a lower limit the provider stated, keeping the level within it.
        mutating func reshape(_ shape: (perSecond: Double, capacity: Double)) {
            capacity = shape.capacity
            perSecond = shape.perSecond
            level = min(level, capacity)
        }

        mutating func refill(elapsed: Double) {
            level = min(capacity, level + perSecond * elapsed)
        }

        /// Seconds until the level is back at zero.
        var deficitSeconds: Double { level >= 0 ? 0 : -level / perSecond }
    }

    private struct State {
        var requests: Bucket?
        var tokens: Bucket?
        var updatedAt: Double = 0
        var pausedUntil: Double = 0
    }

    private let state: Mutex<State>

    /// A limiter for `limits`. The buckets start full — ``RateLimits/burst`` seconds of refill —
    /// as a provider's do after a quiet spell; with `startFull: false` they start empty, for a
    /// process that starts while others have been using the same key.
    public init(
        limits: RateLimits, startFull: Bool = true, longestPause: Duration = RateLimitSnapshot.defaultLongestPause,
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.limits = limits
        self.longestPause = longestPause
        self.clock = clock
        self.origin = currentInstant(of: clock)
        func bucket(_ perMinute: Int?) -> Bucket? {
            perMinute.map { Bucket(limits.bucket(perMinute: $0), full: startFull) }
        }
        state = Mutex(State(requests: bucket(limits.requestsPerMinute), tokens: bucket(limits.tokensPerMinute)))
    }

    /// Seconds since the limiter was made, on its clock.
    private func now() -> Double {
        let elapsed = elapsedSince(origin, on: clock)
        return elapsed.timeInterval
    }

    /// How long a request of `tokens` tokens would wait if it asked now.
    public func currentWait(tokens: Int) -> Duration {
        state.withLock { state in
            var copy = state
            return .seconds(Self.take(&copy, tokens: tokens, at: now(), commit: false))
        }
    }

    /// Waits until a request of `tokens` tokens fits the limits, and takes its share. When the
    /// wait would be longer than `maxWait`, takes nothing and throws
    /// ``KeelCore/ModelError/Code/rateLimited`` at once (so a fallback model can be tried).
    public func acquire(tokens: Int, maxWait: Duration? = nil) async throws {
        let wait: Double = try state.withLock { state in
            let time = now()
            var probe = state
            let needed = Self.take(&probe, tokens: tokens, at: time, commit: false)
            if let maxWait, needed > maxWait.timeInterval {
                throw ModelError(.rateLimited, message: "the rate limit would hold this request for \(Duration.seconds(needed).formattedSeconds), longer than the \(maxWait.formattedSeconds) allowed", retryAfter: .seconds(needed))
            }
            return Self.take(&state, tokens: tokens, at: time, commit: true)
        }
        guard wait > 0 else { return }
        do {
            try await clock.sleep(for: .seconds(wait))
        } catch {
            refund(tokens: tokens)
            throw error
        }
    }

    /// Takes one request and `tokens` tokens (when `commit`) and returns the seconds to wait.
    private static func take(_ state: inout State, tokens: Int, at time: Double, commit: Bool) -> Double {
        let elapsed = max(0, time - state.updatedAt)
        state.requests?.refill(elapsed: elapsed)
        state.tokens?.refill(elapsed: elapsed)
        state.updatedAt = time
        if commit {
            state.requests?.level -= 1
            state.tokens?.level -= Double(tokens)
        } else {
            // What the wait would be after taking.
            var requests = state.requests
            var tokenBucket = state.tokens
            requests?.level -= 1
            tokenBucket?.level -= Double(tokens)
            return max(state.pausedUntil - time, requests?.deficitSeconds ?? 0, tokenBucket?.deficitSeconds ?? 0, 0)
        }
        return max(state.pausedUntil - time, state.requests?.deficitSeconds ?? 0, state.tokens?.deficitSeconds ?? 0, 0)
    }

    /// Gives back a share that was not used (a cancelled wait).
    public func refund(tokens: Int) {
        state.withLock { state in
            state.requests?.level += 1
            state.tokens?.level += Double(tokens)
        }
    }

    /// Corrects the buckets from what the provider said: a limit lower than the configured one
    /// (`x-ratelimit-limit-*`, per minute) replaces it — the key's real tier is learned —, its
    /// remaining requests and tokens can only lower ours (to zero at the least), and a
    /// `Retry-After` pauses every caller for that long (``longestPause`` at the most).
    public func observe(_ snapshot: RateLimitSnapshot) {
        let snapshot = snapshot.bounded(longestPause: longestPause)
        state.withLock { state in
            let time = now()
            state.requests?.refill(elapsed: max(0, time - state.updatedAt))
            state.tokens?.refill(elapsed: max(0, time - state.updatedAt))
            state.updatedAt = time
            if let stated = snapshot.requestLimit, stated > 0, let configured = limits.requestsPerMinute, stated < configured {
                state.requests?.reshape(limits.bucket(perMinute: stated))
            }
            if let stated = snapshot.tokenLimit, stated > 0, let configured = limits.tokensPerMinute, stated < configured {
                state.tokens?.reshape(limits.bucket(perMinute: stated))
            }
            if let remaining = snapshot.remainingRequests, var bucket = state.requests {
                bucket.level = min(bucket.level, Double(remaining))
                state.requests = bucket
            }
            if let remaining = snapshot.remainingTokens, var bucket = state.tokens {
                bucket.level = min(bucket.level, Double(remaining))
                state.tokens = bucket
            }
            if let retryAfter = snapshot.retryAfter {
                state.pausedUntil = max(state.pausedUntil, time + retryAfter.timeInterval)
            }
        }
    }
}

/// The current instant of a clock, type-erased.
func currentInstant(of clock: any Clock<Duration>) -> any InstantProtocol<Duration> {
    func now<C: Clock>(_ clock: C) -> any InstantProtocol<Duration> where C.Duration == Duration { clock.now }
    return now(clock)
}

/// The time from `origin` (an instant of `clock`) to now.
func elapsedSince(_ origin: any InstantProtocol<Duration>, on clock: any Clock<Duration>) -> Duration {
    func elapsed<C: Clock>(_ clock: C) -> Duration where C.Duration == Duration {
        guard let origin = origin as? C.Instant else { return .zero }
        return origin.duration(to: clock.now)
    }
    return elapsed(clock)
}

/// The rate limiters of a process by key (such as `openai:<key fingerprint>` or
/// `openai:<key>:gpt-4o` where a model has its own limits), so that every run that uses a provider
/// key shares one set of buckets.
///
/// ``shared`` keeps its buckets in this process. Workers that share a database pace themselves
/// together with a registry whose backend keeps the buckets there:
///
/// ```swift
/// let limiters = RateLimiters { key, limits in PostgresRateLimiter(store: store, key: key, limits: limits) }
/// ```
public final class RateLimiters: Sendable {
    /// The registry of in-process limiters.
    public static let shared = RateLimiters()

    private let limiters = Mutex<[String: any RateLimiting]>([:])
    private let make: (@Sendable (String, RateLimits) -> any RateLimiting)?

    /// A registry whose limiters are made by `backend`, or kept in this process when it is `nil`.
    public init(backend: (@Sendable (String, RateLimits) -> any RateLimiting)? = nil) {
        self.make = backend
    }

    /// The limiter for `key`, made with `limits` the first time it is asked for (and again when
    /// the limits change).
    public func limiter(for key: String, limits: RateLimits) -> any RateLimiting {
        limiters.withLock { limiters in
            if let existing = limiters[key], existing.limits == limits { return existing }
            let limiter = make?(key, limits) ?? RateLimiter(limits: limits)
            limiters[key] = limiter
            return limiter
        }
    }
}
