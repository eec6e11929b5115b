import Foundation
import KeelCore
import KeelHTTP

/// Reads Anthropic's rate-limit headers: `anthropic-ratelimit-requests-*` and
/// `anthropic-ratelimit-tokens-*` (limit, remaining, and an RFC 3339 reset time), and
/// `retry-after` in seconds.
package enum AnthropicRateLimitHeaders {
    /// The snapshot, or `nil` when no rate-limit header is present.
    package static func parse(_ headers: [(String, String)], now: Date = Date()) -> RateLimitSnapshot? {
        var lookup: [String: String] = [:]
        for (name, value) in headers {
            let lowered = name.lowercased()
            guard lowered.hasPrefix("anthropic-ratelimit-") || lowered == "retry-after" else { continue }
            lookup[lowered] = value.trimmingCharacters(in: .whitespaces)
        }
        guard !lookup.isEmpty else { return nil }
        var snapshot = RateLimitSnapshot()
        snapshot.requestLimit = lookup["anthropic-ratelimit-requests-limit"].flatMap(HeaderValues.count)
        snapshot.remainingRequests = lookup["anthropic-ratelimit-requests-remaining"].flatMap(HeaderValues.count)
        snapshot.requestsReset = lookup["anthropic-ratelimit-requests-reset"].flatMap { HeaderValues.timeUntil(rfc3339: $0, now: now) }
        snapshot.tokenLimit = lookup["anthropic-ratelimit-tokens-limit"].flatMap(HeaderValues.count)
        snapshot.remainingTokens = lookup["anthropic-ratelimit-tokens-remaining"].flatMap(HeaderValues.count)
        snapshot.tokensReset = lookup["anthropic-ratelimit-tokens-reset"].flatMap { HeaderValues.timeUntil(rfc3339: $0, now: now) }
        snapshot.retryAfter = lookup["retry-after"].flatMap { HeaderValues.retryAfter($0, now: now) }
        return snapshot.isEmpty ? nil : snapshot
    }
}
