/// A model's complete reply to one ``ChatRequest``.
public struct ChatResponse: Sendable, Hashable, Codable {
    /// The most tool calls one reply may ask for: 256. No model asks for hundreds at once, and
    /// each becomes a step; a provider's parser treats a reply with more as malformed.
    public static let maximumToolCalls = 256

    /// The provider's id for the response, if it gave one.
    public var id: String?
    /// The model that answered, as the provider named it.
    public var model: String?
    /// The reply itself.
    public var message: AssistantMessage
    /// Tokens used.
    public var usage: Usage
    /// Why the model stopped.
    public var finishReason: FinishReason
    /// The rate-limit headers of the response, if the provider sent any.
    public var rateLimit: RateLimitSnapshot?
    /// The `provider:name` of the model that answered, when a model that routes between others
    /// (such as a fallback chain) answered through one of them; `nil` means the model called.
    /// Costs are priced by it.
    public var servedBy: String?

    public init(
        id: String? = nil, model: String? = nil, message: AssistantMessage, usage: Usage = .zero,
        finishReason: FinishReason = .stop, rateLimit: RateLimitSnapshot? = nil, servedBy: String? = nil
    ) {
        self.id = id
        self.model = model
        self.message = message
        self.usage = usage
        self.finishReason = finishReason
        self.rateLimit = rateLimit
        self.servedBy = servedBy
    }
}

/// Why a model stopped writing.
public enum FinishReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// It finished its reply.
    case stop
    /// It reached the maximum output tokens; the reply is cut short.
    case length
    /// It asked for tool calls.
    case toolCalls
    /// The provider's content filter stopped it.
    case contentFilter
    /// A reason this type does not know, as the provider wrote it.
    case other(String)

    /// Maps a provider's finish reason string onto a case.
    public init(providerValue: String) {
        switch providerValue {
        case "stop", "end_turn", "stop_sequence": self = .stop
        case "length", "max_tokens": self = .length
        case "tool_calls", "function_call", "tool_use": self = .toolCalls
        case "content_filter": self = .contentFilter
        default: self = .other(providerValue)
        }
    }

    public var description: String {
        switch self {
        case .stop: "stop"
        case .length: "length"
        case .toolCalls: "tool_calls"
        case .contentFilter: "content_filter"
        case .other(let value): value
        }
    }
}

/// What a provider's rate-limit headers said about the caller's remaining quota.
public struct RateLimitSnapshot: Sendable, Hashable, Codable {
    /// Requests per window allowed (`x-ratelimit-limit-requests`).
    public var requestLimit: Int?
    /// Tokens per window allowed (`x-ratelimit-limit-tokens`).
    public var tokenLimit: Int?
    /// Requests left in the window (`x-ratelimit-remaining-requests`).
    public var remainingRequests: Int?
    /// Tokens left in the window (`x-ratelimit-remaining-tokens`).
    public var remainingTokens: Int?
    /// Time until the request window resets (`x-ratelimit-reset-requests`).
    public var requestsReset: Duration?
    /// Time until the token window resets (`x-ratelimit-reset-tokens`).
    public var tokensReset: Duration?
    /// How long the provider asked the caller to wait (`retry-after`, `retry-after-ms`).
    public var retryAfter: Duration?

    public init(
        requestLimit: Int? = nil, tokenLimit: Int? = nil, remainingRequests: Int? = nil,
        remainingTokens: Int? = nil, requestsReset: Duration? = nil, tokensReset: Duration? = nil,
        retryAfter: Duration? = nil
    ) {
        self.requestLimit = requestLimit
        self.tokenLimit = tokenLimit
        self.remainingRequests = remainingRequests
        self.remainingTokens = remainingTokens
        self.requestsReset = requestsReset
        self.tokensReset = tokensReset
        self.retryAfter = retryAfter
    }

    /// Whether no header was present.
    public var isEmpty: Bool { self == RateLimitSnapshot() }

    /// The longest pause a limiter takes from one `Retry-After` unless configured otherwise: two
    /// minutes, as ``RetryPolicy``'s `maxRetryAfter` (a longer wait fails the call rather than
    /// holding every caller of the key).
    public static let defaultLongestPause: Duration = .seconds(120)

    /// The snapshot as a rate limiter may act on it: `retryAfter` no longer than `longestPause`
    /// and every count at least zero. One `retry-after: 31536000` must not stop every worker of a
    /// key for a year.
    public func bounded(longestPause: Duration = defaultLongestPause) -> RateLimitSnapshot {
        var bounded = self
        bounded.retryAfter = retryAfter.map { min(max($0, .zero), longestPause) }
        bounded.remainingRequests = remainingRequests.map { max(0, $0) }
        bounded.remainingTokens = remainingTokens.map { max(0, $0) }
        bounded.requestLimit = requestLimit.map { max(0, $0) }
        bounded.tokenLimit = tokenLimit.map { max(0, $0) }
        return bounded
    }
}
