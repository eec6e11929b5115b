import Foundation
import KeelApp
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// The fleet's shared buckets against what a hostile provider says.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresRateLimiterTests {
    @Test func aYearLongRetryAfterPausesTheFleetForTwoMinutesAtMost() async throws {
        let (store, _) = try await freshStore()
        let limiter = PostgresRateLimiter(store: store, key: "openai:hostile", limits: RateLimits(requestsPerMinute: 6_000))
        await limiter.observe(RateLimitSnapshot(remainingRequests: -50, retryAfter: .seconds(31_536_000)))
        // The wait is reported by the refusal of a caller that may wait 1 s at most.
        let error = await #expect(throws: ModelError.self) { try await limiter.acquire(tokens: 1, maxWait: .seconds(1)) }
        let wait = try #require(error?.retryAfter)
        #expect(wait <= .seconds(120))
        #expect(wait > .seconds(100))
        await store.close()
    }

    @Test func aPauseWrittenLongBeforeIsBoundedWhenRead() async throws {
        let (store, url) = try await freshStore()
        let limiter = PostgresRateLimiter(store: store, key: "openai:old", limits: RateLimits(requestsPerMinute: 6_000))
        try await limiter.acquire(tokens: 1, maxWait: nil)
        // A row as an older Keel (or a hand) may have left it: paused for ten years.
        try await PostgresTestCluster.shared().psql(
            url, "UPDATE keel_rate_buckets SET paused_until = EXTRACT(EPOCH FROM clock_timestamp()) + 315360000 WHERE key = 'openai:old'")
        let error = await #expect(throws: ModelError.self) { try await limiter.acquire(tokens: 1, maxWait: .seconds(1)) }
        #expect(try #require(error?.retryAfter) <= .seconds(120))
        await store.close()
    }

    /// A PostgreSQL location's runs pace themselves in the database, on limiters of their own:
    /// nothing process-wide is swapped, so a SQLite store in the same process still paces in it.
    @Test func aPostgresLocationsLimitersKeepTheirBucketsInTheDatabase() async throws {
        let (store, url) = try await freshStore()
        await store.close()
        let first = try await StoreLocation(url).open()
        let second = try await StoreLocation(url).open()
        let limits = RateLimits(requestsPerMinute: 60)
        let a = first.rateLimiters.limiter(for: "openai:fleet", limits: limits)
        let b = second.rateLimiters.limiter(for: "openai:fleet", limits: limits)
        #expect(a is PostgresRateLimiter && b is PostgresRateLimiter)
        #expect(RateLimiters.shared.limiter(for: "openai:fleet", limits: limits) is RateLimiter)
        // A pause one worker hears of holds the other back.
        await a.observe(RateLimitSnapshot(retryAfter: .seconds(30)))
        let error = await #expect(throws: ModelError.self) { try await b.acquire(tokens: 1, maxWait: .milliseconds(100)) }
        #expect(try #require(error?.retryAfter) > .seconds(20))
        await (first.store as? PostgresRunStore)?.close()
        await (second.store as? PostgresRunStore)?.close()
    }
}
