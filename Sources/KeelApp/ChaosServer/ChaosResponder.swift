import Foundation
import KeelAnthropic
import KeelCore
import KeelOpenAI
import Synchronization

/// The faults and limits a chaos server injects in front of an honest responder.
public struct ChaosConfiguration: Sendable, Hashable {
    /// Added before every answer. Default: none.
    public var latency: Duration = .zero
    /// A random extra latency, up to this much. Default: none.
    public var latencyJitter: Duration = .zero
    /// Requests allowed per minute, as a token bucket refilled continuously; beyond it the answer
    /// is 429 with `retry-after` and `x-ratelimit-*` headers. Default: unlimited.
    public var requestsPerMinute: Int?
    /// Tokens allowed per minute, counting each request as
    /// ``KeelCore/ChatRequest/estimatedRateLimitTokens``. Default: unlimited.
    public var tokensPerMinute: Int?
    /// How many seconds of the limit a bucket holds: providers state per-minute limits but
    /// enforce them over shorter windows (one second of burst: 10 requests at once for 600 a
    /// minute). Default: `nil`, a whole minute.
    public var burstSeconds: Double?
    /// Whether the buckets start full (a quiet minute before) or empty (a busy one). Default: full.
    public var startWithFullBuckets: Bool = true
    /// Share of requests answered 500. Default: 0.
    public var serverErrorRate: Double = 0
    /// Share of requests answered 503 (overloaded). Default: 0.
    public var overloadRate: Double = 0
    /// Share of requests never answered (the client's timeout must act). Default: 0.
    public var hangRate: Double = 0
    /// Share of requests answered with a body that is not JSON. Default: 0.
    public var malformedRate: Double = 0
    /// Share of streamed requests cut off mid-stream (non-streamed ones get half a JSON body).
    /// Default: 0.
    public var truncateRate: Double = 0
    /// The seed of the fault dice, for repeatable runs. Default: 1.
    public var seed: UInt64 = 1

    public init() {}

    /// The same faults at `rate` in all, split evenly between 500, 503, hangs, bodies that are not
    /// JSON and truncated streams.
    public static func faults(_ rate: Double) -> ChaosConfiguration {
        var configuration = ChaosConfiguration()
        let share = rate / 5
        configuration.serverErrorRate = share
        configuration.overloadRate = share
        configuration.hangRate = share
        configuration.malformedRate = share
        configuration.truncateRate = share
        return configuration
    }
}

/// What a chaos server did: requests seen, answered, refused for rate limits, and faults by kind.
public final class ChaosStats: Sendable {
    public struct Counts: Sendable, Hashable {
        public var requests = 0
        public var answered = 0
        public var rateLimited = 0
        public var serverErrors = 0
        public var overloaded = 0
        public var hangs = 0
        public var malformed = 0
        public var truncated = 0

        /// Faults injected (rate limits not included).
        public var faults: Int { serverErrors + overloaded + hangs + malformed + truncated }
    }

    private let counts = Mutex(Counts())

    public init() {}

    /// The counts so far.
    public var snapshot: Counts { counts.withLock { $0 } }

    func record(_ update: (inout Counts) -> Void) {
        counts.withLock { update(&$0) }
    }
}

extension OpenAICompatibleServer.Responder {
    /// A responder that injects the configured faults and rate limits in front of `inner`, and
    /// counts what it did in `stats`.
    public static func chaos(_ configuration: ChaosConfiguration, stats: ChaosStats = ChaosStats(), answeringWith inner: Self) -> Self {
        let state = Mutex(ChaosState(random: SplitMix64(seed: configuration.seed), configuration: configuration))
        return Self { request in
            stats.record { $0.requests += 1 }
            let tokens = (try? request.chatRequest().estimatedRateLimitTokens) ?? 0
            let now = ContinuousClock.now
            let decision: ChaosDecision = state.withLock { state in state.decide(tokens: tokens, at: now, configuration: configuration) }
            var latency = configuration.latency
            if configuration.latencyJitter > .zero {
                let fraction = state.withLock { Double($0.random.next() % 1_000) / 1_000 }
                latency += configuration.latencyJitter * fraction
            }
            // Errors in the format of the API called: Anthropic's for the Messages API.
            let anthropic = request.isMessages
            switch decision {
            case .rateLimited(let retryAfter, let headers):
                stats.record { $0.rateLimited += 1 }
                // Seconds (rounded up) for clients that read only Retry-After; milliseconds for those that read more.
                let seconds = ("retry-after", String(max(1, Int(retryAfter.rounded(.up)))))
                if anthropic {
                    return .anthropicError(
                        status: 429, type: "rate_limit_error", message: "Number of requests has exceeded your per-minute rate limit.",
                        headers: [seconds] + headers)
                }
                return .error(
                    status: 429, message: "Rate limit reached. Please try again in \(Int((retryAfter * 1000).rounded(.up)))ms.", type: "requests",
                    code: "rate_limit_exceeded", headers: [seconds, ("retry-after-ms", String(Int((retryAfter * 1000).rounded(.up))))] + headers)
            case .serverError where anthropic:
                stats.record { $0.serverErrors += 1 }
                return .anthropicError(status: 500, type: "api_error", message: "Internal server error", delay: latency)
            case .overloaded where anthropic:
                stats.record { $0.overloaded += 1 }
                return .anthropicError(status: 529, type: "overloaded_error", message: "Overloaded", delay: latency)
            case .serverError:
                stats.record { $0.serverErrors += 1 }
                return ServerReply(status: 500, body: .json(["error": ["message": "The server had an error while processing your request.", "type": "server_error"]]), delay: latency)
            case .overloaded:
                stats.record { $0.overloaded += 1 }
                return ServerReply(status: 503, body: .json(["error": ["message": "The engine is currently overloaded.", "type": "overloaded_error"]]), delay: latency)
            case .hang:
                stats.record { $0.hangs += 1 }
                return ServerReply(body: .hang)
            case .malformed:
                stats.record { $0.malformed += 1 }
                return ServerReply(body: .text("<html><body>502 Bad Gateway</body></html>", contentType: "text/html"), delay: latency)
            case .truncate, .answer:
                var reply = await inner.respond(request)
                reply.delay = latency
                if case .truncate = decision, case .chat(let response) = reply.body {
                    stats.record { $0.truncated += 1 }
                    if request.json?["stream"]?.boolValue == true {
                        reply.body = .truncatedStream(response, chunks: 2)
                    } else {
                        let model = request.json?["model"]?.stringValue ?? "keel-test"
                        let whole = (anthropic
                            ? MessagesWire.responseBody(response, model: model) : ChatCompletionsWire.responseBody(response, model: model, created: 0)).serialized()
                        reply.body = .text(String(whole.prefix(whole.count / 2)), contentType: "application/json")
                    }
                } else {
                    stats.record { $0.answered += 1 }
                }
                if case .answer(let headers) = decision { reply.headers += headers }
                return reply
            }
        }
    }
}

enum ChaosDecision {
    case rateLimited(retryAfter: Double, headers: [(String, String)])
    case serverError, overloaded, hang, malformed, truncate
    case answer(headers: [(String, String)])
}

struct ChaosState {
    var random: SplitMix64
    /// A bucket: its level, the most it holds, and the limit per minute it refills at.
    var requests: (level: Double, capacity: Double, perMinute: Double)?
    var tokens: (level: Double, capacity: Double, perMinute: Double)?
    var updated = ContinuousClock.now

    init(random: SplitMix64, configuration: ChaosConfiguration) {
        self.random = random
        func bucket(_ limit: Int?) -> (Double, Double, Double)? {
            limit.map { limit in
                let perMinute = Double(max(1, limit))
                let capacity = configuration.burstSeconds.map { max(1, perMinute / 60 * min(60, max(0.01, $0))) } ?? perMinute
                return (configuration.startWithFullBuckets ? capacity : 0, capacity, perMinute)
            }
        }
        requests = bucket(configuration.requestsPerMinute)
        tokens = bucket(configuration.tokensPerMinute)
    }

    mutating func decide(tokens cost: Int, at now: ContinuousClock.Instant, configuration: ChaosConfiguration) -> ChaosDecision {
        let elapsed = (now - updated).timeInterval
        updated = now
        if var bucket = requests {
            bucket.level = min(bucket.capacity, bucket.level + bucket.perMinute / 60 * elapsed)
            requests = bucket
        }
        if var bucket = tokens {
            bucket.level = min(bucket.capacity, bucket.level + bucket.perMinute / 60 * elapsed)
            tokens = bucket
        }
        var headers: [(String, String)] = []
        if let bucket = requests {
            let wait = bucket.level >= 1 ? 0 : (1 - bucket.level) / (bucket.perMinute / 60)
            let reset = String(format: "%.3fs", (bucket.capacity - bucket.level) / (bucket.perMinute / 60))
            if bucket.level < 1 {
                return .rateLimited(retryAfter: wait, headers: [
                    ("x-ratelimit-limit-requests", String(Int(bucket.perMinute))), ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", reset),
                ])
            }
            headers += [
                ("x-ratelimit-limit-requests", String(Int(bucket.perMinute))), ("x-ratelimit-remaining-requests", String(Int(bucket.level - 1))),
                ("x-ratelimit-reset-requests", reset),
            ]
        }
        if let bucket = tokens {
            let needed = Double(cost)
            let reset = String(format: "%.3fs", (bucket.capacity - bucket.level) / (bucket.perMinute / 60))
            if bucket.level < needed {
                let wait = (needed - bucket.level) / (bucket.perMinute / 60)
                return .rateLimited(retryAfter: wait, headers: [
                    ("x-ratelimit-limit-tokens", String(Int(bucket.perMinute))), ("x-ratelimit-remaining-tokens", String(max(0, Int(bucket.level)))),
                    ("x-ratelimit-reset-tokens", reset),
                ])
            }
            headers += [
                ("x-ratelimit-limit-tokens", String(Int(bucket.perMinute))), ("x-ratelimit-remaining-tokens", String(Int(bucket.level - needed))),
                ("x-ratelimit-reset-tokens", reset),
            ]
        }
        requests?.level -= 1
        tokens?.level -= Double(cost)
        let roll = Double(random.next() % 1_000_000) / 1_000_000
        var threshold = configuration.serverErrorRate
        if roll < threshold { return .serverError }
        threshold += configuration.overloadRate
        if roll < threshold { return .overloaded }
        threshold += configuration.hangRate
        if roll < threshold { return .hang }
        threshold += configuration.malformedRate
        if roll < threshold { return .malformed }
        threshold += configuration.truncateRate
        if roll < threshold { return .truncate }
        return .answer(headers: headers)
    }
}

extension Duration {
    fileprivate static func * (lhs: Duration, rhs: Double) -> Duration {
        Duration(boundedSeconds: lhs.timeInterval * rhs) ?? .zero
    }
}
