import Foundation
import KeelCore
import KeelHTTP

/// Reads OpenAI's rate-limit headers (`x-ratelimit-*`, `retry-after`, `retry-after-ms`).
package enum RateLimitHeaders {
    /// The snapshot, or `nil` when no rate-limit header is present.
    package static func parse(_ headers: [(String, String)], now: Date = Date()) -> RateLimitSnapshot? {
        var lookup: [String: String] = [:]
        for (name, value) in headers where isRateLimitHeader(name) {
            lookup[name.lowercased()] = value.trimmingCharacters(in: .whitespaces)
        }
        guard !lookup.isEmpty else { return nil }
        var snapshot = RateLimitSnapshot()
        snapshot.requestLimit = lookup["x-ratelimit-limit-requests"].flatMap(HeaderValues.count)
        snapshot.tokenLimit = lookup["x-ratelimit-limit-tokens"].flatMap(HeaderValues.count)
        snapshot.remainingRequests = lookup["x-ratelimit-remaining-requests"].flatMap(HeaderValues.count)
        snapshot.remainingTokens = lookup["x-ratelimit-remaining-tokens"].flatMap(HeaderValues.count)
        snapshot.requestsReset = lookup["x-ratelimit-reset-requests"].flatMap(parseDuration)
        snapshot.tokensReset = lookup["x-ratelimit-reset-tokens"].flatMap(parseDuration)
        if let milliseconds = lookup["retry-after-ms"].flatMap({ Double($0) }), let retryAfter = Duration(boundedSeconds: milliseconds / 1000) {
            snapshot.retryAfter = retryAfter
        } else if let value = lookup["retry-after"] {
            snapshot.retryAfter = HeaderValues.retryAfter(value, now: now)
        }
        return snapshot.isEmpty ? nil : snapshot
    }

    /// Whether `name` is one of the headers read here (`x-ratelimit-*`, `retry-after*`), decided
    /// without allocating: every response passes all its headers through this check.
    static func isRateLimitHeader(_ name: String) -> Bool {
        func hasPrefix(_ prefix: StaticString) -> Bool {
            let count = prefix.utf8CodeUnitCount
            var utf8 = name.utf8.makeIterator()
            for offset in 0..<count {
                guard let byte = utf8.next() else { return false }
                // ASCII lowercase: set bit 5 on letters only.
                let lowered = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
                if lowered != prefix.utf8Start[offset] { return false }
            }
            return true
        }
        return hasPrefix("x-ratelimit-") || hasPrefix("retry-after")
    }

    /// Durations such as `1s`, `6m0s`, `20ms`, `1h2m3.5s`; a bare number is seconds.
    package static func parseDuration(_ text: String) -> Duration? {
        Duration(parsing: text)
    }
}
