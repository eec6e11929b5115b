import CoreMetrics
import KeelCore

/// Keel's metrics, through swift-metrics: made only when a metrics backend is bootstrapped, so
/// that a process without one pays nothing per step.
///
/// | Metric | Dimensions |
/// |---|---|
/// | `keel_model_calls_total` | `model`, `outcome` (`ok` or the error class) |
/// | `keel_model_tokens_total` | `model`, `kind` (`input`, `cached_input`, `output`) |
/// | `keel_model_cost_usd_total` | `model` |
/// | `keel_model_call_duration_seconds` | `model` |
/// | `keel_rate_limited_total` | `model` (answers 429) |
/// | `keel_rate_limiter_wait_seconds` | `model` (waits for the limiter longer than a millisecond) |
/// | `keel_retry_backoff_seconds` | (each wait before a retry) |
/// | `keel_tool_calls_total`, `keel_tool_call_duration_seconds` | `tool`, `outcome` |
/// | `keel_journal_write_duration_seconds` | |
/// | `keel_budget_stops_total` | |
/// | `keel_runs_finished_total` | `status` |
/// | `keel_dead_letters_total` | |
struct KeelMetrics: Sendable {
    /// The metrics, or `nil` when no backend is bootstrapped (the no-op one).
    static func active() -> KeelMetrics? {
        MetricsSystem.factory is NOOPMetricsHandler ? nil : KeelMetrics()
    }

    /// A settled model call: `usage` is what it cost (billed attempts included), `model` the
    /// model that served it.
    func modelCall(model: String, usage: Usage, costUSD: Double, latency: Duration?) {
        Counter(label: "keel_model_calls_total", dimensions: [("model", model), ("outcome", "ok")]).increment()
        for (kind, count) in [("input", usage.inputTokens), ("cached_input", usage.cachedInputTokens), ("output", usage.outputTokens)] where count > 0 {
            Counter(label: "keel_model_tokens_total", dimensions: [("model", model), ("kind", kind)]).increment(by: count)
        }
        if costUSD > 0 { FloatingPointCounter(label: "keel_model_cost_usd_total", dimensions: [("model", model)]).increment(by: costUSD) }
        if let latency { Timer(label: "keel_model_call_duration_seconds", dimensions: [("model", model)]).record(duration: latency) }
    }

    func modelCallFailed(model: String, error: any Error) {
        let code = (error as? ModelError)?.code.rawValue ?? "other"
        Counter(label: "keel_model_calls_total", dimensions: [("model", model), ("outcome", code)]).increment()
    }

    func rateLimited(model: String) {
        Counter(label: "keel_rate_limited_total", dimensions: [("model", model)]).increment()
    }

    func rateLimiterWait(model: String, _ duration: Duration) {
        Timer(label: "keel_rate_limiter_wait_seconds", dimensions: [("model", model)]).record(duration: duration)
    }

    func backoff(_ duration: Duration) {
        Timer(label: "keel_retry_backoff_seconds").record(duration: duration)
    }

    func budgetStop() {
        Counter(label: "keel_budget_stops_total").increment()
    }

    func toolCall(_ tool: String, isError: Bool, duration: Duration) {
        let outcome = isError ? "error" : "ok"
        Counter(label: "keel_tool_calls_total", dimensions: [("tool", tool), ("outcome", outcome)]).increment()
        Timer(label: "keel_tool_call_duration_seconds", dimensions: [("tool", tool)]).record(duration: duration)
    }

    func journalWrite(_ duration: Duration) {
        Timer(label: "keel_journal_write_duration_seconds").record(duration: duration)
    }

    func runFinished(status: String) {
        Counter(label: "keel_runs_finished_total", dimensions: [("status", status)]).increment()
    }

    func deadLetter() {
        Counter(label: "keel_dead_letters_total").increment()
    }
}

extension CoreMetrics.Timer {
    func record(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }
}
