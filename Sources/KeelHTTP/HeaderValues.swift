import Foundation
import KeelCore

/// Values of rate-limit headers as every provider writes them: counts, `Retry-After`, and reset
/// times — each bounded, so that a hostile or broken header cannot stop a limiter for a year or
/// trap on a conversion.
public enum HeaderValues {
    /// A count such as `x-ratelimit-remaining-requests`: a whole number, where a negative one
    /// counts as zero (a server that says `-5` has nothing left, not a debt to pay back).
    public static func count(_ value: String) -> Int? {
        guard value.utf8.count <= 20, let count = Int(value) else { return nil }
        return max(0, count)
    }

    /// `Retry-After`: seconds (possibly fractional) or an HTTP date. A value that is not finite,
    /// negative or longer than `Duration.longestAccepted` is ignored.
    public static func retryAfter(_ value: String, now: Date) -> Duration? {
        guard value.utf8.count <= 64 else { return nil }
        if let seconds = Double(value) { return Duration(boundedSeconds: seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return Duration(boundedSeconds: max(0, date.timeIntervalSince(now)))
    }

    /// The time until an RFC 3339 instant such as `2026-12-01T06:30:12Z` (Anthropic's reset
    /// headers), zero when it has passed; `nil` when the value is not such an instant.
    public static func timeUntil(rfc3339 value: String, now: Date) -> Duration? {
        guard value.utf8.count <= 64 else { return nil }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        guard let date = withFraction.date(from: value) ?? plain.date(from: value) else { return nil }
        return Duration(boundedSeconds: max(0, date.timeIntervalSince(now)))
    }
}
