import Foundation
import KeelCore
import Synchronization

/// Where spending across runs is held against caps: a call reserves its worst case before it
/// runs, and settles to what it really cost after. Reservations make parallel runs that share a
/// tenant's budget unable to overspend it together.
///
/// The in-process ``InMemorySpendLedger`` serves one process; a store's ledger (`SQLiteRunStore`,
/// and the PostgreSQL store for many workers) holds across processes.
public protocol SpendLedger: Sendable {
    /// Reserves `amount` in `scope` if what is spent and reserved there plus `amount` stays within
    /// `cap`; otherwise returns the refusal. A reservation left unsettled (its process died)
    /// lapses after `ttl`.
    func reserve(_ amount: Spend, in scope: SpendScope, cap: Budget, ttl: Duration) async throws -> Result<SpendReservation, BudgetExceeded>

    /// Holds a reservation for `ttl` from now: a call that runs longer than the reservation's
    /// lifetime renews it while it runs, so that the amount stays held until the call settles.
    /// `false` when the reservation is gone (settled, or lapsed before it was renewed).
    func renew(_ reservation: SpendReservation, ttl: Duration) async throws -> Bool

    /// Replaces a reservation with what the call really cost.
    func settle(_ reservation: SpendReservation, actual: Spend) async throws

    /// What was spent in `scope` (reservations not included).
    func spent(in scope: SpendScope) async throws -> Spend

    /// Records that the alert for `threshold` in `scope` fired; `true` only the first time.
    func markAlertFired(in scope: SpendScope, threshold: Double) async throws -> Bool

    /// Counts one use of `key` (such as a tool's calls by a tenant on a day) if fewer than `limit`
    /// were counted; `false` when the quota is used up.
    func consumeQuota(_ key: String, limit: Int) async throws -> Bool
}

/// Spending held against a cap until it is settled.
public struct SpendReservation: Sendable, Hashable {
    public var id: String
    public var scope: SpendScope
    public var amount: Spend

    public init(id: String, scope: SpendScope, amount: Spend) {
        self.id = id
        self.scope = scope
        self.amount = amount
    }
}

/// A ``SpendLedger`` for one process.
public final class InMemorySpendLedger: SpendLedger {
    private let book = Mutex(SpendBook())

    public init() {}

    public func reserve(_ amount: Spend, in scope: SpendScope, cap: Budget, ttl: Duration) async throws -> Result<SpendReservation, BudgetExceeded> {
        book.withLock { $0.reserve(amount, in: scope, cap: cap, ttl: ttl) }
    }

    public func renew(_ reservation: SpendReservation, ttl: Duration) async throws -> Bool {
        book.withLock { $0.renew(reservation, ttl: ttl) }
    }

    public func settle(_ reservation: SpendReservation, actual: Spend) async throws {
        book.withLock { $0.settle(reservation, actual: actual) }
    }

    public func spent(in scope: SpendScope) async throws -> Spend {
        book.withLock { $0.spent[scope] ?? .zero }
    }

    public func markAlertFired(in scope: SpendScope, threshold: Double) async throws -> Bool {
        book.withLock { $0.markAlertFired(in: scope, threshold: threshold) }
    }

    public func consumeQuota(_ key: String, limit: Int) async throws -> Bool {
        book.withLock { $0.consumeQuota(key, limit: limit) }
    }
}

/// The bookkeeping of a ledger held in memory — settled spending, reservations with their expiry,
/// alert marks and quotas — for ``InMemorySpendLedger`` and ``InMemoryRunStore``, which keep it
/// under their own locks.
struct SpendBook {
    var spent: [SpendScope: Spend] = [:]
    private var reservations: [String: (SpendReservation, ContinuousClock.Instant)] = [:]
    private var alerts: Set<String> = []
    private var quotas: [String: Int] = [:]
    private var nextID = 0

    mutating func reserve(_ amount: Spend, in scope: SpendScope, cap: Budget, ttl: Duration) -> Result<SpendReservation, BudgetExceeded> {
        let now = ContinuousClock.now
        reservations = reservations.filter { $0.value.1 > now }
        let held = reservations.values.filter { $0.0.scope == scope }.reduce(Spend.zero) { $0 + $1.0.amount }
        let spentSoFar = spent[scope] ?? .zero
        guard cap.allows(amount, after: spentSoFar + held) else {
            return .failure(BudgetExceeded(scope: scope, limit: cap, spent: spentSoFar + held, worstCase: amount))
        }
        nextID += 1
        let reservation = SpendReservation(id: "r\(nextID)", scope: scope, amount: amount)
        reservations[reservation.id] = (reservation, now + ttl)
        return .success(reservation)
    }

    mutating func renew(_ reservation: SpendReservation, ttl: Duration) -> Bool {
        let now = ContinuousClock.now
        guard let held = reservations[reservation.id], held.1 > now else { return false }
        reservations[reservation.id] = (held.0, now + ttl)
        return true
    }

    mutating func settle(_ reservation: SpendReservation, actual: Spend) {
        reservations.removeValue(forKey: reservation.id)
        spent[reservation.scope, default: .zero] += actual
    }

    mutating func markAlertFired(in scope: SpendScope, threshold: Double) -> Bool {
        alerts.insert("\(scope.key)@\(threshold)").inserted
    }

    mutating func consumeQuota(_ key: String, limit: Int) -> Bool {
        guard quotas[key, default: 0] < limit else { return false }
        quotas[key, default: 0] += 1
        return true
    }
}
