import Foundation
import KeelCore
import KeelRuntime
import Logging
import PostgresNIO

/// Request and token buckets for one provider key, kept in PostgreSQL so that every worker on every
/// machine paces itself against the same limits: ten workers together still send no more than the
/// provider's tier allows.
///
/// ```swift
/// let limiters = RateLimiters { key, limits in PostgresRateLimiter(store: store, key: key, limits: limits) }
/// ```
///
/// Each call takes its share in one short transaction (the bucket row is locked for it) and then
/// waits, outside any transaction, until the bucket would have refilled to zero — first come, first
/// served across the fleet. Time is the database server's, so the workers' clocks do not matter.
/// A bucket holds ``KeelRuntime/RateLimits/burst`` seconds of refill and refills at
/// ``KeelRuntime/RateLimits/share`` of the limit, as the in-process limiter's do. A new bucket
/// starts empty: a fleet that starts (or restarts) never bursts past the provider's limit while
/// the provider still counts earlier requests.
public final class PostgresRateLimiter: RateLimiting {
    public let store: PostgresRunStore
    public let key: String
    public let limits: RateLimits
    /// The longest a `Retry-After` pauses the fleet. Default:
    /// ``KeelCore/RateLimitSnapshot/defaultLongestPause`` (two minutes). A pause read from the
    /// database is bounded by it too, whatever wrote it.
    public let longestPause: Duration

    public init(store: PostgresRunStore, key: String, limits: RateLimits, longestPause: Duration = RateLimitSnapshot.defaultLongestPause) {
        self.store = store
        self.key = key
        self.limits = limits
        self.longestPause = longestPause
    }

    public func acquire(tokens: Int, maxWait: Duration?) async throws {
        let wait = try await store.takeRateShare(key: key, limits: limits, tokens: tokens, maxWait: maxWait, longestPause: longestPause)
        guard wait > 0 else { return }
        do {
            try await Task.sleep(for: .seconds(wait))
        } catch {
            await refund(tokens: tokens)
            throw error
        }
    }

    public func refund(tokens: Int) async {
        try? await store.adjustRateBuckets(key: key, limits: limits, requests: 1, tokens: Double(tokens), snapshot: nil)
    }

    public func observe(_ snapshot: RateLimitSnapshot) async {
        try? await store.adjustRateBuckets(key: key, limits: limits, requests: 0, tokens: 0, snapshot: snapshot.bounded(longestPause: longestPause))
    }
}

extension PostgresRunStore {
    /// A bucket row as read under its lock, refilled to the database's `now`.
    struct RateBuckets {
        var requests: Double
        var tokens: Double
        var pausedUntil: Double
        let now: Double

        /// Seconds until both buckets are back at zero and any pause is over (a pause no longer
        /// than `longestPause` from now).
        func wait(_ limits: RateLimits, longestPause: Duration) -> Double {
            var wait = min(max(0, pausedUntil - now), longestPause.timeInterval)
            if let perMinute = limits.requestsPerMinute, requests < 0 { wait = max(wait, -requests / limits.bucket(perMinute: perMinute).perSecond) }
            if let perMinute = limits.tokensPerMinute, tokens < 0 { wait = max(wait, -tokens / limits.bucket(perMinute: perMinute).perSecond) }
            return wait
        }
    }

    /// Locks the bucket row of `key` (making it, empty, the first time) and refills it.
    func lockRateBuckets(_ connection: PostgresConnection, key: String, limits: RateLimits) async throws -> RateBuckets {
        let logger = self.logger
        try await connection.rows(
            """
            INSERT INTO keel_rate_buckets (key, requests_level, tokens_level, updated_at, paused_until)
            VALUES (\(key), 0, 0, EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION, 0) ON CONFLICT (key) DO NOTHING
            """, logger: logger)
        guard let row = try await connection.rows(
            """
            SELECT requests_level, tokens_level, updated_at, paused_until, EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION AS now
            FROM keel_rate_buckets WHERE key = \(key) FOR UPDATE
            """, logger: logger
        ).first else { throw StoreError(.notFound, "no rate-limit bucket '\(key)'") }
        let columns = Columns(row)
        let now: Double = try columns("now")
        let elapsed = max(0, now - (try columns("updated_at") as Double))
        func refilled(_ level: Double, _ perMinute: Int?) -> Double {
            guard let perMinute else { return 0 }
            let bucket = limits.bucket(perMinute: perMinute)
            return min(bucket.capacity, level + bucket.perSecond * elapsed)
        }
        return RateBuckets(
            requests: refilled(try columns("requests_level"), limits.requestsPerMinute), tokens: refilled(try columns("tokens_level"), limits.tokensPerMinute),
            pausedUntil: try columns("paused_until"), now: now)
    }

    func saveRateBuckets(_ connection: PostgresConnection, key: String, _ buckets: RateBuckets) async throws {
        try await connection.rows(
            """
            UPDATE keel_rate_buckets SET requests_level = \(buckets.requests), tokens_level = \(buckets.tokens), updated_at = \(buckets.now),
                paused_until = \(buckets.pausedUntil) WHERE key = \(key)
            """, logger: logger)
    }

    /// Takes one request and `tokens` tokens from the buckets of `key` and returns the seconds to
    /// wait before sending; takes nothing and throws `rateLimited` when that would pass `maxWait`.
    func takeRateShare(key: String, limits: RateLimits, tokens: Int, maxWait: Duration?, longestPause: Duration) async throws -> Double {
        try await write { connection in
            var buckets = try await self.lockRateBuckets(connection, key: key, limits: limits)
            buckets.requests -= 1
            if limits.tokensPerMinute != nil { buckets.tokens -= Double(tokens) }
            let wait = buckets.wait(limits, longestPause: longestPause)
            if let maxWait, wait > Self.seconds(maxWait) {
                throw ModelError(
                    .rateLimited, message: "the shared rate limit would hold this request for \(Duration.seconds(wait).formattedSeconds), longer than the \(maxWait.formattedSeconds) allowed",
                    retryAfter: .seconds(wait))
            }
            try await self.saveRateBuckets(connection, key: key, buckets)
            return wait
        }
    }

    /// Gives back a share, or lowers the buckets to what the provider says remains and pauses for
    /// its `Retry-After`.
    func adjustRateBuckets(key: String, limits: RateLimits, requests: Double, tokens: Double, snapshot: RateLimitSnapshot?) async throws {
        try await write { connection in
            var buckets = try await self.lockRateBuckets(connection, key: key, limits: limits)
            buckets.requests += requests
            buckets.tokens += tokens
            if let remaining = snapshot?.remainingRequests { buckets.requests = min(buckets.requests, Double(remaining)) }
            if let remaining = snapshot?.remainingTokens { buckets.tokens = min(buckets.tokens, Double(remaining)) }
            if let retryAfter = snapshot?.retryAfter { buckets.pausedUntil = max(buckets.pausedUntil, buckets.now + Self.seconds(retryAfter)) }
            try await self.saveRateBuckets(connection, key: key, buckets)
        }
    }
}
