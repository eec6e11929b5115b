import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelObservability
import KeelRuntime
import Logging
import ServiceLifecycle

/// `keel worker`: runs the store's runs, many at a time, until told to stop.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run the store's runs as a worker, beside any number of others.",
        discussion: """
            Claims runnable runs (submitted, resumed, woken by a timer, a signal or an approval, or abandoned by a worker \
            that died) and runs them, up to --concurrency at a time. Start as many workers as you like on one PostgreSQL \
            store: a run is held by one worker at a time under a lease renewed every --heartbeat; when a worker dies its \
            runs are taken over once their leases expire, from their last journaled step. SIGTERM or SIGINT stops claiming \
            and lets the runs in hand finish (or wait) for up to --shutdown-grace; runs still going then are given back.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var authorityOptions: AuthorityOptions

    @Option(help: "How many runs this worker runs at once.")
    var concurrency = 4

    @Option(help: ArgumentHelp("How often to look for work when there is none, such as 250ms.", valueName: "duration"))
    var poll = "250ms"

    @Option(help: ArgumentHelp("How long a claim lasts without a heartbeat, such as 30s.", valueName: "duration"))
    var lease = "30s"

    @Option(help: ArgumentHelp("How often a run's lease is renewed, such as 10s.", valueName: "duration"))
    var heartbeat = "10s"

    @Option(name: .customLong("shutdown-grace"), help: ArgumentHelp("How long runs in hand may go on after SIGTERM, such as 30s.", valueName: "duration"))
    var shutdownGrace = "30s"

    @Option(
        name: .customLong("inline-sleep"),
        help: ArgumentHelp("The longest durable sleep a run sleeps in this worker; longer ones give the run back until it is due, such as 60s.", valueName: "duration"))
    var inlineSleep = "60s"

    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics at /metrics on this port (0 picks one).")
    var metricsPort: Int?

    @Option(name: .customLong("metrics-host"), help: "The address the metrics listen on.")
    var metricsHost = "127.0.0.1"

    @Option(
        name: .customLong("store-metrics-interval"),
        help: ArgumentHelp("How often the store's gauges (runs by status, approvals pending, open dead letters) are read, such as 15s.", valueName: "duration"))
    var storeMetricsInterval = "15s"

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if let metricsPort, !(0...65_535).contains(metricsPort) { throw ValidationError("--metrics-port must be from 0 to 65535, got \(metricsPort)") }
        for (flag, value) in [("--poll", poll), ("--lease", lease), ("--heartbeat", heartbeat), ("--shutdown-grace", shutdownGrace), ("--inline-sleep", inlineSleep), ("--store-metrics-interval", storeMetricsInterval)] {
            guard Duration(parsing: value) != nil else { throw ValidationError("\(flag) must be a duration such as 10s, got '\(value)'") }
        }
    }

    func run() async throws {
        var runtimeConfiguration = DurableRuntime.Configuration()
        runtimeConfiguration.leaseDuration = Duration(parsing: lease) ?? .seconds(30)
        runtimeConfiguration.heartbeatInterval = Duration(parsing: heartbeat) ?? .seconds(10)
        runtimeConfiguration.inlineSleepLimit = Duration(parsing: inlineSleep) ?? .seconds(60)
        guard runtimeConfiguration.heartbeatInterval < runtimeConfiguration.leaseDuration else {
            throw CLIError("--heartbeat must be shorter than --lease, or leases lapse between beats")
        }
        // Keel's main bootstrapped the metrics into this registry before the command ran.
        var metrics: MetricsEndpoint?
        if let metricsPort {
            guard let registry = KeelMain.observability?.prometheus else { throw CLIError("the metrics were not set up before the worker started") }
            do {
                metrics = try await MetricsEndpoint.start(registry: registry, host: metricsHost, port: metricsPort)
            } catch {
                throw CLIError("cannot serve metrics on \(metricsHost):\(metricsPort): \(error)")
            }
            Console.error("metrics at http://\(metricsHost):\(metrics?.port ?? metricsPort)/metrics")
        }
        defer { if let metrics { Task { try? await metrics.close() } } }
        let store = try await waitForStore()
        let runtime = Application.runtime(store, authority: authorityOptions.authority, configuration: runtimeConfiguration)
        let logger = Logger(label: "keel.worker")
        let service = WorkerService(runtime: runtime, concurrency: concurrency, pollInterval: Duration(parsing: poll) ?? .milliseconds(250))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        if KeelMain.observability?.prometheus != nil || KeelMain.observability?.exportsMetrics == true {
            let gauges = StoreGauges(store: store.store, interval: Duration(parsing: storeMetricsInterval) ?? .seconds(15), logger: logger)
            services.append(.init(service: StoreGaugesService(gauges: gauges)))
        }
        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Duration(parsing: shutdownGrace)
        Console.error("worker \(runtime.owner) runs \(concurrency) at a time from \(storeOptions.location)")
        try await ServiceGroup(configuration: groupConfiguration).run()
        Console.error("worker \(runtime.owner) stopped")
    }
}

extension WorkerCommand {
    /// Opens the store, waiting (with backoff, up to 5 s between tries) while it cannot be reached,
    /// so that workers started before their database, or during an outage, begin when it is back.
    func waitForStore() async throws -> OpenedStore {
        var delay = Duration.milliseconds(250)
        var told = false
        while true {
            do {
                return try await StoreOptions.connect(storeOptions.db, lockTimeout: storeOptions.lockTimeout)
            } catch let error as StoreError where error.code == .unavailable {
                if !told { Console.error("waiting for the store: \(error.message)") }
                told = true
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            } catch let error as StoreError {
                throw CLIError(error.message)
            }
        }
    }
}

/// `keel submit demo|agent`: puts a run in the store for the workers, and prints its id.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Put a run in the store for the workers to run, and print its id.",
        discussion: "Submitting the same --run-id again does nothing and prints the id again.",
        subcommands: [Demo.self, Agent.self]
    )

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit the report pipeline of keel demo.")
        @OptionGroup var demo: DemoCommand

        func run() async throws {
            try await submit(
                workflow: "report", input: try JSONValue(encoding: try demo.requestedInput()), runID: demo.runID ?? newRunID("report"),
                store: demo.storeOptions.db, lockTimeout: demo.storeOptions.lockTimeout, controls: demo.controlOptions)
        }
    }

    struct Agent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit an agent run of keel agent.")
        @OptionGroup var agent: AgentCommand

        func run() async throws {
            try await submit(
                workflow: "agent", input: try JSONValue(encoding: try agent.requestedInput()), runID: agent.runID ?? newRunID("agent"),
                store: agent.db ?? "keel.db", lockTimeout: "5s", controls: agent.controlOptions)
        }
    }
}

/// Creates the run (idempotently by id) and prints its id.
private func submit(workflow: String, input: JSONValue, runID: String, store location: String, lockTimeout: String, controls: ControlOptions) async throws {
    let record = try await catching {
        let store = try await StoreOptions.open(location, lockTimeout: lockTimeout).store
        return try await store.createRun(NewRun(id: runID, workflow: workflow, input: input, tenant: controls.tenant, deadline: controls.deadlineDate)).record
    }
    Console.line(record.id)
}
