import ArgumentParser
import Foundation
import KeelObservability
import KeelRuntime
import Logging
import Prometheus
import Synchronization

/// The `keel` command: run agents and pipelines, inspect runs, serve a test LLM.
struct Keel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel",
        abstract: "Run LLM agents that survive crashes, budgets and rate limits.",
        version: "0.1.0",
        subcommands: [
            DemoCommand.self, AgentCommand.self, BatchCommand.self, RunsCommand.self, ApprovalsCommand.self, ApproveCommand.self, DenyCommand.self,
            AuditCommand.self, CostsCommand.self, DeadLettersCommand.self, WorkerCommand.self, SubmitCommand.self, ServeCommand.self, KeysCommand.self,
            GraphCommand.self, CrewCommand.self, MemoryCommand.self, ChatCommand.self, SessionsCommand.self, ChaosLLMCommand.self,
        ]
    )
}

/// Parses the command line, runs the command, and turns every failure into one line on standard
/// error and a non-zero exit status (help and version requests print as usual).
@main
enum KeelMain {
    /// The process's traces and metrics, started once the command line is parsed (a worker
    /// serving `/metrics` needs a Prometheus registry in the bootstrap).
    static var observability: Observability? { started.withLock { $0 } }
    private static let started = Mutex<Observability?>(nil)

    static func main() async {
        bootstrapLogging()
        let failure: (any Error)?
        do {
            var command = try Keel.parseAsRoot()
            let servesMetrics = (command as? WorkerCommand)?.metricsPort != nil || command is ServeCommand
            let observability = startObservability(prometheus: servesMetrics ? PrometheusCollectorRegistry() : nil)
            started.withLock { $0 = observability }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            failure = nil
        } catch {
            failure = error
        }
        // The spans and metrics of the run's last moments are exported before the process ends.
        await Self.observability?.shutdown()
        guard let error = failure else { return }
        let code = Keel.exitCode(for: error)
        if code == .success || error is CleanExit {
            Keel.exit(withError: error)
        }
        if let error = error as? CLIError {
            Console.error("keel: " + oneLine(error.description))
            Foundation.exit(error.exitCode)
        }
        Console.error("keel: " + oneLine(Keel.message(for: error)))
        Foundation.exit(code.rawValue)
    }

    /// Traces and metrics exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a signal's
    /// own variant) is set, metrics kept in `prometheus` when given; otherwise nothing. A bad
    /// setting is one line on standard error, and the command runs.
    static func startObservability(prometheus: PrometheusCollectorRegistry?) -> Observability? {
        do {
            return try Observability.start(environment: ProcessInfo.processInfo.environment, logger: Logger(label: "keel.observability"), prometheus: prometheus)
        } catch {
            Console.error("keel: traces and metrics are not exported: " + oneLine("\(error)"))
            return nil
        }
    }

    /// Logs go to standard error at the level in `KEEL_LOG_LEVEL` (default: `error`, so that a
    /// failure is one line), with the run and step they were logged in and, when traces are
    /// exported, the trace and span ids.
    static func bootstrapLogging() {
        let environment = ProcessInfo.processInfo.environment
        let level = environment["KEEL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        // Each line logged in a step says which run and step; with traces exported, also the
        // trace and span it was logged in.
        let providers = [StepLogMetadata.provider] + (Observability.isConfigured(environment) ? [Observability.logMetadataProvider] : [])
        let metadata = Logger.MetadataProvider.multiplex(providers)
        LoggingSystem.bootstrap({ label, provider in
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
            handler.logLevel = level
            return handler
        }, metadataProvider: metadata)
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}
