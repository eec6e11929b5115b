import ArgumentParser
import Foundation
import Hummingbird
import KeelApp
import KeelCore
import KeelRuntime
import KeelServer
import Logging
import ServiceLifecycle

/// `keel serve`: the HTTP API (and, with --workers, workers) over one store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Keel's HTTP API over the store, optionally with workers in the same process.",
        discussion: """
            Runs, approvals, dead letters, costs and keys under /v1, each request scoped to its API key's tenant \
            (make keys with 'keel keys create'); Prometheus metrics at /metrics; /healthz. SIGTERM or SIGINT stops \
            accepting requests and lets the runs in hand finish for up to --shutdown-grace.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var authorityOptions: AuthorityOptions

    @Option(help: "The port to listen on (0 picks one).")
    var port = 8080

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Workers to run in this process beside the API (0: runs wait for 'keel worker').")
    var workers = 0

    @Option(name: .customLong("requests-per-second"), help: "Requests a second each API key may send.")
    var requestsPerSecond = 50

    @Option(
        help: ArgumentHelp(
            "A JSON file naming the agents served as models at /v1/chat/completions: {\"name\": {agent input without a prompt}}. Default: one agent, 'keel', the offline arithmetic model with the calculator.",
            valueName: "file"))
    var agents: String?

    @Option(name: .customLong("shutdown-grace"), help: ArgumentHelp("How long runs in hand may go on after SIGTERM, such as 30s.", valueName: "duration"))
    var shutdownGrace = "30s"

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, got \(port)") }
        guard (0...256).contains(workers) else { throw ValidationError("--workers must be from 0 to 256, got \(workers)") }
        guard (1...100_000).contains(requestsPerSecond) else { throw ValidationError("--requests-per-second must be from 1 to 100000") }
        guard Duration(parsing: shutdownGrace) != nil else { throw ValidationError("--shutdown-grace must be a duration such as 30s, got '\(shutdownGrace)'") }
    }

    func run() async throws {
        let opened = try await storeOptions.open()
        guard let store = opened.store as? any ServedStore else { throw CLIError("the store \(storeOptions.location) keeps no API keys") }
        let runtime = KeelApp.Application.runtime(opened, authority: authorityOptions.authority, configuration: DurableRuntime.Configuration())
        let server = KeelServer(
            store: store,
            configuration: .init(
                requestsPerSecond: requestsPerSecond, burst: requestsPerSecond * 2, metrics: KeelMain.observability?.prometheus, agents: try servedAgents()),
            runtime: runtime)
        var services: [any Service] = []
        if workers > 0 {
            services.append(WorkerService(runtime: runtime, concurrency: workers))
        }
        if KeelMain.observability?.prometheus != nil {
            services.append(StoreGaugesService(gauges: StoreGauges(store: store)))
        }
        let host = self.host
        let workers = self.workers
        let location = storeOptions.location
        var configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "keel")
        configuration.reuseAddress = true
        let app = server.application(configuration: configuration, services: services, logger: Logger(label: "keel.server")) { channel in
            let bound = channel.localAddress?.port ?? 0
            Console.error("listening on http://\(host):\(bound) with \(workers) worker\(workers == 1 ? "" : "s") over \(location)")
        }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        Console.error("stopped")
    }
}

extension ServeCommand {
    /// The agents of `--agents`, or the offline default.
    func servedAgents() throws -> [String: AgentWorkflow.Input] {
        guard let agents else {
            return ["keel": AgentWorkflow.Input(prompt: "", toolsets: ["calculator"], maxSteps: 20, maxOutputTokens: 1_500, model: ModelSpec(spec: "arithmetic"))]
        }
        let url = URL(fileURLWithPath: agents)
        guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int, size <= 1_048_576,
            let data = try? Data(contentsOf: url)
        else { throw CLIError("--agents: cannot read \(agents) (at most 1 MiB)") }
        do {
            guard case .object(let named) = try JSONValue(parsing: String(decoding: data, as: UTF8.self)), !named.isEmpty else {
                throw CLIError("--agents: \(agents) must hold a JSON object of agents by name")
            }
            return try named.mapValues { try KeelServer.agentInput($0, promptRequired: false) }
        } catch let error as CLIError {
            throw error
        } catch let error as APIError {
            throw CLIError("--agents: \(agents): \(error.message)")
        } catch {
            throw CLIError("--agents: \(agents) is not a JSON object of agents: \(error)")
        }
    }
}

/// `keel keys create|list|revoke`: the API keys of `keel serve`.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Make, list and revoke the API keys of 'keel serve'.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a key and print it — once: the store keeps only its hash.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "The tenant whose runs the key reaches.") var tenant: String
        @Option(help: "A name for people; approvals decided with the key record it.") var name: String
        @Option(help: "viewer (reads), operator (also starts runs and decides approvals) or admin (also manages keys).") var role: String = "viewer"

        func run() async throws {
            guard let role = APIKeyRole(rawValue: role) else { throw CLIError("--role must be viewer, operator or admin, got '\(role)'") }
            let keys = try await KeysCommand.keys(storeOptions)
            do {
                let (record, key) = try await APIKeys.create(in: keys, tenant: tenant, name: name, role: role)
                Console.line(key)
                Console.error("key \(record.id) '\(record.name)' of tenant \(record.tenant), role \(record.role.rawValue): keep it now, it is not shown again")
            } catch let error as APIError {
                throw CLIError(error.message)
            } catch let error as StoreError {
                throw CLIError(error.message)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the keys themselves).")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "Only this tenant's keys.") var tenant: String?

        func run() async throws {
            for key in try await KeysCommand.keys(storeOptions).keys(tenant: tenant) {
                Console.line("\(key.id)  \(key.tenant)  \(key.name)  \(key.role.rawValue)\(key.revokedAt == nil ? "" : "  revoked")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it is refused from then on.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The key's id, such as key_1a2b3c4d5e6f.") var id: String

        func run() async throws {
            do {
                let key = try await KeysCommand.keys(storeOptions).revokeKey(id: id)
                Console.line("revoked \(key.id) '\(key.name)' of tenant \(key.tenant)")
            } catch let error as StoreError {
                throw CLIError(error.message)
            }
        }
    }

    static func keys(_ options: StoreOptions) async throws -> any APIKeyStore {
        guard let keys = try await options.open().store as? any APIKeyStore else { throw CLIError("the store \(options.location) keeps no API keys") }
        return keys
    }
}
