import CoreMetrics
import Logging

/// Gauges of what a store holds — runs by status, approvals waiting for a person, open dead
/// letters — sampled from ``RunStore/summary(tenant:)`` every `interval` while ``run()`` runs.
///
/// | Gauge | Dimensions |
/// |---|---|
/// | `keel_runs` | `status` (every ``RunStatus``, 0 when none) |
/// | `keel_approvals_pending`, `keel_approvals_escalated` | |
/// | `keel_dead_letters_open` | |
///
/// The counts are the store's, not the process's: every worker on one store reports the same
/// values (aggregate them with `max`, not `sum`). Nothing is read while no metrics backend is
/// bootstrapped.
public struct StoreGauges: Sendable {
    public let store: any RunStore
    public let interval: Duration
    private let logger: Logger

    public init(store: any RunStore, interval: Duration = .seconds(15), logger: Logger = Logger(label: "keel.metrics")) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// Reads the store's summary once and sets the gauges.
    public func sample() async throws {
        guard let metrics = KeelMetrics.active() else { return }
        metrics.storeSummary(try await store.summary(tenant: nil))
    }

    /// Samples every `interval` until the task is cancelled. A failed read is logged and tried
    /// again at the next interval; the gauges keep their last values meanwhile.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await sample()
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not sample the store for its gauges: \(error)")
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}

extension KeelMetrics {
    func storeSummary(_ summary: StoreSummary) {
        for status in RunStatus.allCases {
            Gauge(label: "keel_runs", dimensions: [("status", status.rawValue)]).record(summary.runs[status] ?? 0)
        }
        Gauge(label: "keel_approvals_pending").record(summary.approvals[.pending] ?? 0)
        Gauge(label: "keel_approvals_escalated").record(summary.approvals[.escalated] ?? 0)
        Gauge(label: "keel_dead_letters_open").record(summary.openDeadLetters)
    }
}
