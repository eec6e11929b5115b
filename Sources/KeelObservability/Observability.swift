import CoreMetrics
import KeelRuntime
import Logging
import OTel
import Prometheus
import ServiceLifecycle
import Tracing

/// Exports Keel's traces and metrics with OpenTelemetry (OTLP over HTTP) when the standard
/// `OTEL_*` variables ask for it, and keeps its metrics for a Prometheus scrape when asked to —
/// one call for the `keel` command and for library users.
///
/// ```swift
/// let observability = try Observability.start(environment: ProcessInfo.processInfo.environment)
/// // … run agents and workflows …
/// await observability?.shutdown()   // exports what is left
/// ```
///
/// Nothing is started unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or a signal's own endpoint variable)
/// is set or a Prometheus registry is given. The other standard variables
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
/// `OTEL_TRACES_SAMPLER`, `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_TRACES_EXPORTER=none`,
/// `OTEL_METRICS_EXPORTER=none` …) apply as swift-otel reads them. Spans carry no prompt or reply
/// text unless `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
public final class Observability: Sendable {
    /// The registry Keel's metrics are kept in for a scrape, when one was given to ``start(environment:serviceName:logger:prometheus:)``.
    public let prometheus: PrometheusCollectorRegistry?
    /// Whether spans are exported.
    public let exportsTraces: Bool
    /// Whether metrics are exported over OTLP.
    public let exportsMetrics: Bool
    private let group: ServiceGroup?
    private let running: Task<Void, Never>?

    private init(services: [any Service], prometheus: PrometheusCollectorRegistry?, traces: Bool, metrics: Bool, logger: Logger) {
        self.prometheus = prometheus
        exportsTraces = traces
        exportsMetrics = metrics
        guard !services.isEmpty else {
            group = nil
            running = nil
            return
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        self.group = group
        running = Task {
            do {
                try await group.run()
            } catch {
                logger.warning("the OpenTelemetry exporter stopped: \(error)")
            }
        }
    }

    /// Whether `environment` asks for `signal` (`traces`, `metrics`) to be exported over OTLP: an
    /// endpoint is set, the SDK is not disabled and the signal's exporter is not `none`.
    public static func exports(_ signal: String, _ environment: [String: String]) -> Bool {
        let name = signal.uppercased()
        guard environment["OTEL_SDK_DISABLED"]?.lowercased() != "true", environment["OTEL_\(name)_EXPORTER"]?.lowercased() != "none" else { return false }
        return ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_\(name)_ENDPOINT"].contains { !(environment[$0] ?? "").isEmpty }
    }

    /// Whether `environment` asks for traces to be exported (see ``exports(_:_:)``).
    public static func isConfigured(_ environment: [String: String]) -> Bool {
        exports("traces", environment)
    }

    /// Bootstraps the process's tracer and metrics, and starts exporting, as `environment` asks
    /// (see ``exports(_:_:)``); with `prometheus`, the metrics are also kept in that registry for
    /// a scrape (serve it with ``MetricsEndpoint``). `nil` when there is nothing to do. Call it
    /// once per process, before any run starts: swift-metrics and swift-distributed-tracing are
    /// bootstrapped once.
    public static func start(
        environment: [String: String], serviceName: String = "keel", logger: Logger = Logger(label: "keel.observability"),
        prometheus: PrometheusCollectorRegistry? = nil
    ) throws -> Observability? {
        let traces = exports("traces", environment)
        let metrics = exports("metrics", environment)
        guard traces || metrics || prometheus != nil else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.otlpExporter.protocol = .httpProtobuf
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        var services: [any Service] = []
        var factories: [any MetricsFactory] = prometheus.map { [PrometheusMetricsFactory(registry: $0)] } ?? []
        if metrics {
            configuration.metrics.enabled = true
            let (factory, service) = try OTel.makeMetricsBackend(configuration: configuration)
            factories.append(factory)
            services.append(service)
        }
        if traces {
            configuration.traces.enabled = true
            let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
            if environment["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"]?.lowercased() == "true" { TraceContent.record(true) }
            InstrumentationSystem.bootstrap(tracer)
            services.append(service)
        }
        if let only = factories.first, factories.count == 1 {
            MetricsSystem.bootstrap(only)
        } else if !factories.isEmpty {
            MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: factories))
        }
        return Observability(services: services, prometheus: prometheus, traces: traces, metrics: metrics, logger: logger)
    }

    /// Log metadata of the current span — `trace_id`, `span_id` and `trace_flags` — for the
    /// logging system's bootstrap, so that a log line says which trace it belongs to.
    public static var logMetadataProvider: Logger.MetadataProvider { OTel.makeLoggingMetadataProvider() }

    /// Exports what is left — the spans and metrics of the process's last moments — and stops.
    public func shutdown() async {
        await group?.triggerGracefulShutdown()
        await running?.value
    }
}
