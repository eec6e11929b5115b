/// A model call that failed, classified so that retries, fallbacks and alerts can act on it.
///
/// Its ``description`` names the code, the HTTP status and the provider's message; it never holds
/// prompts, tool arguments or API keys.
public struct ModelError: Error, Sendable, CustomStringConvertible {
    /// The class of failure. Safe to use as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible, Codable {
        public let rawValue: String

        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// Too many requests or tokens; ``ModelError/retryAfter`` says how long to wait, if known.
        public static let rateLimited = Code("rate_limited")
        /// The provider is over capacity (HTTP 503 or 529).
        public static let overloaded = Code("overloaded")
        /// The provider failed (HTTP 5xx).
        public static let server = Code("server")
        /// No complete answer arrived in time.
        public static let timeout = Code("timeout")
        /// The prompt and maximum output do not fit the model's context window.
        public static let contextLengthExceeded = Code("context_length_exceeded")
        /// The provider refused the request as malformed (HTTP 400, 404, 422).
        public static let invalidRequest = Code("invalid_request")
        /// The key is missing, wrong or not allowed (HTTP 401, 403).
        public static let authentication = Code("authentication")
        /// The provider answered something that is not a valid response.
        public static let malformedResponse = Code("malformed_response")
        /// The provider could not be reached at all (refused, reset, DNS).
        public static let connection = Code("connection")
        /// The call was cancelled by the caller.
        public static let cancelled = Code("cancelled")

        public var description: String { rawValue }

        public init(from decoder: any Decoder) throws {
            rawValue = try String(from: decoder)
        }

        public func encode(to encoder: any Encoder) throws {
            try rawValue.encode(to: encoder)
        }
    }

    public var code: Code
    /// What happened, in the provider's words where it gave any.
    public var message: String
    /// The HTTP status, for providers that speak HTTP.
    public var statusCode: Int?
    /// How long the provider asked the caller to wait before trying again.
    public var retryAfter: Duration?
    /// The rate-limit headers of the failed response.
    public var rateLimit: RateLimitSnapshot?
    /// The provider's own error code (such as `insufficient_quota`), if it gave one.
    public var providerCode: String?
    /// The error underneath, such as a transport error.
    public var underlying: (any Error & Sendable)?
    /// Whether the failed call may still cost money. Default: ``Billing/notBilled``.
    public var billing: Billing = .notBilled

    /// What a failed call may have cost. A provider bills the tokens it processed once it has
    /// accepted a request — a reply cut short, a reply that is not valid, a call that timed out
    /// while the model was generating — but not a refusal (rate limits, overload, bad requests)
    /// or a connection that never reached it.
    public enum Billing: Sendable, Hashable {
        /// The provider refused the request or was never reached: nothing to pay.
        case notBilled
        /// The provider reported what the call used before it failed (a stream's usage chunk).
        case usage(Usage)
        /// The provider may have processed the request, and did not say how much: count the
        /// call's worst case.
        case unknown
    }

    public init(
        _ code: Code, message: String, statusCode: Int? = nil, retryAfter: Duration? = nil,
        rateLimit: RateLimitSnapshot? = nil, providerCode: String? = nil, underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.statusCode = statusCode
        self.retryAfter = retryAfter
        self.rateLimit = rateLimit
        self.providerCode = providerCode
        self.underlying = underlying
    }

    /// Whether trying the same request again may succeed (rate limits, overload, server errors,
    /// timeouts, connection failures).
    public var isTransient: Bool {
        [.rateLimited, .overloaded, .server, .timeout, .connection].contains(code)
    }

    public var description: String {
        var text = "\(code)"
        if let statusCode { text += " (HTTP \(statusCode))" }
        text += ": \(message)"
        if let retryAfter { text += "; retry after \(retryAfter.formattedSeconds)" }
        return text
    }

    /// Any error as a ``ModelError``: a model error stays as it is; cancellation becomes
    /// ``Code/cancelled``; anything else is a ``Code/malformedResponse`` with its description.
    public static func classify(_ error: any Error) -> ModelError {
        if let error = error as? ModelError { return error }
        if error is CancellationError { return ModelError(.cancelled, message: "The call was cancelled.") }
        return ModelError(.malformedResponse, message: String(describing: error))
    }
}

extension Duration {
    /// Seconds with up to three decimals, such as `1.5s`.
    public var formattedSeconds: String {
        let milliseconds = saturatingMilliseconds
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        let text = String(Double(milliseconds) / 1000)
        return text + "s"
    }
}
