import Foundation
import KeelCore
import KeelRuntime

/// The checks every ``KeelRuntime/SpendLedger`` must pass: reservations hold parallel calls to a
/// cap, settling replaces a reservation with what was spent, a renewed reservation outlives its
/// first lifetime, a lapsed or settled one cannot be renewed. Run each against a fresh ledger:
///
/// ```swift
/// @Test(arguments: SpendLedgerConformance.checks)
/// func sqliteLedgerConforms(_ check: SpendLedgerConformance.Check) async throws {
///     try await check.run(try SQLiteRunStore(path: path))
/// }
/// ```
public enum SpendLedgerConformance {
    /// One named check.
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any SpendLedger) async throws -> Void
        public var description: String { name }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw RunStoreConformance.Failure(description: message()) }
    }

    static func reserved(_ ledger: any SpendLedger, _ amount: Spend, _ scope: SpendScope, cap: Budget, ttl: Duration = .seconds(60)) async throws -> SpendReservation? {
        switch try await ledger.reserve(amount, in: scope, cap: cap, ttl: ttl) {
        case .success(let reservation): reservation
        case .failure: nil
        }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "reservations hold parallel calls to the cap, and settling frees what was not spent") { ledger in
            let scope = SpendScope.tenant("conformance", on: Date())
            let cap = Budget(maxTokens: 1_000, maxCostUSD: 1)
            let held = try await withThrowingTaskGroup(of: SpendReservation?.self) { group in
                for _ in 0..<5 { group.addTask { try await reserved(ledger, Spend(tokens: 300, costUSD: 0.1), scope, cap: cap) } }
                return try await group.reduce(into: [SpendReservation]()) { if let reservation = $1 { $0.append(reservation) } }
            }
            try expect(held.count == 3, "3 reservations of 300 fit a cap of 1,000, got \(held.count)")
            try await ledger.settle(held[0], actual: Spend(tokens: 100, costUSD: 0.02))
            try expect(try await ledger.spent(in: scope) == Spend(tokens: 100, costUSD: 0.02), "settled spending is what the call cost")
            try expect(try await reserved(ledger, Spend(tokens: 300), scope, cap: cap) != nil, "settling below the reservation frees room")
            try expect(try await reserved(ledger, Spend(tokens: 300), scope, cap: cap) == nil, "the cap still holds")
        },
        Check(name: "a renewed reservation outlives its first lifetime; a settled one cannot be renewed") { ledger in
            let scope = SpendScope.tenant("renewal", on: Date())
            let cap = Budget(maxTokens: 500)
            // Five seconds, so that a loaded machine renews it before it lapses.
            guard let reservation = try await reserved(ledger, Spend(tokens: 400), scope, cap: cap, ttl: .seconds(5)) else {
                throw RunStoreConformance.Failure(description: "the first reservation must fit")
            }
            try expect(try await ledger.renew(reservation, ttl: .seconds(60)), "a live reservation renews")
            try await Task.sleep(for: .milliseconds(5_500))
            try expect(try await reserved(ledger, Spend(tokens: 400), scope, cap: cap) == nil, "a renewed reservation still holds after its first lifetime")
            try await ledger.settle(reservation, actual: Spend(tokens: 400))
            try expect(try await !ledger.renew(reservation, ttl: .seconds(60)), "a settled reservation is gone")
        },
        Check(name: "a lapsed reservation frees its amount and cannot be renewed") { ledger in
            let scope = SpendScope.tenant("lapse", on: Date())
            let cap = Budget(maxTokens: 500)
            guard let reservation = try await reserved(ledger, Spend(tokens: 400), scope, cap: cap, ttl: .milliseconds(200)) else {
                throw RunStoreConformance.Failure(description: "the first reservation must fit")
            }
            try await Task.sleep(for: .milliseconds(700))
            try expect(try await reserved(ledger, Spend(tokens: 400), scope, cap: cap) != nil, "a lapsed reservation holds nothing")
            try expect(try await !ledger.renew(reservation, ttl: .seconds(60)), "a lapsed reservation cannot be renewed")
        },
    ]
}
