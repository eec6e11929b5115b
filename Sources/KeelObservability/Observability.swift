import KeelRuntime
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Exports Keel's traces with OpenTelemetry (OTLP over HTTP) when the standard `OTEL_*`
/// variables ask for it — one call for the `keel` command and for library users.
///
/// ```swift
/// let observability = try Observability.start(environment: ProcessInfo.processInfo.environment)
/// defer { Task { await observability?.shutdown() } }  // or await it before the process ends
/// ```
///
/// Nothing is started, and nothing exported, unless `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set. The other standard variables
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
/// `OTEL_TRACES_SAMPLER` …) apply as swift-otel reads them. Spans carry no prompt or reply text.
public final class Observability: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    private init(group: ServiceGroup, logger: Logger) {
        self.group = group
        running = Task {
            do {
                try await group.run()
            } catch {
                logger.warning("the OpenTelemetry exporter stopped: \(error)")
            }
        }
    }

    /// Whether `environment` asks for traces to be exported.
    public static func isConfigured(_ environment: [String: String]) -> Bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains { !(environment[$0] ?? "").isEmpty }
            && environment["OTEL_SDK_DISABLED"]?.lowercased() != "true"
    }

    /// Bootstraps the process's tracer with an OTLP/HTTP exporter and starts exporting, when
    /// `environment` asks for it (see ``isConfigured(_:)``); `nil` otherwise. Call it once per
    /// process, before any run starts.
    public static func start(
        environment: [String: String], serviceName: String = "keel", logger: Logger = Logger(label: "keel.observability")
    ) throws -> Observability? {
        guard isConfigured(environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        if environment["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"]?.lowercased() == "true" { TraceContent.record(true) }
        InstrumentationSystem.bootstrap(tracer)
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        return Observability(group: group, logger: logger)
    }

    /// Log metadata of the current span — `trace_id`, `span_id` and `trace_flags` — for the
    /// logging system's bootstrap, so that a log line says which trace it belongs to.
    public static var logMetadataProvider: Logger.MetadataProvider { OTel.makeLoggingMetadataProvider() }

    /// Exports what is left and stops: the spans of the process's last moments are not lost.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
        await running.value
    }
}
