import Foundation
import Hummingbird
import KeelApp
import KeelCore
import KeelRuntime
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// What the server serves: a run store that keeps API keys and whose journals can be followed —
/// the SQLite, PostgreSQL and in-memory stores.
public typealias ServedStore = RunStore & APIKeyStore & JournalFeed

/// Keel's HTTP API on Hummingbird: runs, approvals, dead letters, costs and keys under `/v1`,
/// every request scoped to its key's tenant.
///
/// ```swift
/// let server = KeelServer(store: store)
/// let app = server.application(configuration: .init(address: .hostname("127.0.0.1", port: 8080)))
/// try await app.runService()   // graceful shutdown on SIGTERM and SIGINT
/// ```
///
/// A run, approval or dead letter of another tenant is answered exactly as a missing one (404):
/// a key never learns what another tenant holds. Viewers read; operators also start, cancel and
/// resume runs, signal them, decide approvals and retry dead letters; admins also manage keys.
public struct KeelServer: Sendable {
    /// How live events are followed and bounded.
    public struct EventSettings: Sendable {
        /// How often the store is read for new steps.
        public var pollInterval: Duration = .milliseconds(100)
        /// A comment line after this long without an event.
        public var heartbeat: Duration = .seconds(15)
        /// How long one stream lasts before the client is asked to reconnect.
        public var maxDuration: Duration = .seconds(3_600)
        /// Streams one key may hold at once.
        public var maxStreamsPerKey = 16
        /// What a client waits before reconnecting (the `retry:` field).
        public var retryMilliseconds = 1_000
        /// Whether a waiting run's stream stays open (it ends when the run finishes).
        public var followWaitingRuns = true

        public init() {}
    }

    public struct Configuration: Sendable {
        /// Requests a second each key may send, and the burst it may send at once.
        public var requestsPerSecond = 50
        public var burst = 100
        /// Served at `/metrics` (no key needed) when set.
        public var metrics: PrometheusCollectorRegistry?
        public var events = EventSettings()
        /// The agents served as models at `POST /v1/chat/completions`, by the name a request's
        /// `model` gives; each input's prompt is replaced by the conversation.
        public var agents: [String: AgentWorkflow.Input] = [:]

        public init(
            requestsPerSecond: Int = 50, burst: Int = 100, metrics: PrometheusCollectorRegistry? = nil, events: EventSettings = EventSettings(),
            agents: [String: AgentWorkflow.Input] = [:]
        ) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
            self.metrics = metrics
            self.events = events
            self.agents = agents
        }
    }

    public let store: any ServedStore
    public let configuration: Configuration
    /// Runs chat completions' agents in the request (none: chat completions answer 503).
    public let runtime: DurableRuntime?

    public init(store: any ServedStore, configuration: Configuration = Configuration(), runtime: DurableRuntime? = nil) {
        self.store = store
        self.configuration = configuration
        self.runtime = runtime
    }

    /// The routes, for an application of your own or for tests.
    public func router() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: ErrorShape())
        router.get("healthz") { _, _ in ["status": "ok"] }
        router.get("v1/openapi.json") { _, _ in
            guard let document = Self.openAPIDocument else { throw APIError(.internalServerError, "internal", "the OpenAPI document is missing from the server's bundle") }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
        if let registry = configuration.metrics {
            router.get("metrics") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        let sessions = DashboardSessions()
        let limiter = KeyRateLimiter(perSecond: configuration.requestsPerSecond, burst: configuration.burst)
        let v1 = router.group("v1").add(middleware: Authentication(keys: store, limiter: limiter, sessions: sessions))
        RunRoutes(store: store).add(to: v1)
        GovernanceRoutes(store: store).add(to: v1)
        EventRoutes(store: store, settings: configuration.events, open: EventRoutes.OpenStreams()).add(to: v1)
        ChatRoutes(store: store, agents: configuration.agents, runtime: runtime).add(to: v1)
        Dashboard(store: store, sessions: sessions).add(to: router)
        return router
    }

    /// The application serving ``router()``, with `services` (workers, say) run beside it.
    public func application(
        configuration: ApplicationConfiguration, services: [any Service] = [], logger: Logger = Logger(label: "keel.server"),
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(router: router(), configuration: configuration, services: services, onServerRunning: onServerRunning, logger: logger)
    }
}

extension KeelServer {
    /// An agent's input from JSON, with what `keel agent` defaults to for the fields it leaves
    /// out (toolsets, step and token limits, streaming, and — for a served agent — the prompt).
    public static func agentInput(_ json: JSONValue, promptRequired: Bool = true) throws -> AgentWorkflow.Input {
        guard case .object(var fields) = json else { throw APIError(.badRequest, "invalid_input", "an agent's input must be a JSON object") }
        var defaults: [(String, JSONValue)] = [("toolsets", .array([])), ("maxSteps", 20), ("maxOutputTokens", 1_500), ("streaming", false)]
        if !promptRequired { defaults.append(("prompt", "")) }
        for (name, value) in defaults where fields[name] == nil { fields[name] = value }
        return try JSONValue.object(fields).decode(as: AgentWorkflow.Input.self)
    }

    /// The OpenAPI 3.1 document of the API, as served at `/v1/openapi.json`.
    public static let openAPIDocument: Data? = Bundle.module.url(forResource: "openapi", withExtension: "json").flatMap { try? Data(contentsOf: $0) }

    /// Runs `body`, turning a store error into the API's answer for it.
    static func storing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw APIError(error)
        }
    }

    /// `bytes` random bytes (from the system's secure generator) in lowercase hex: keys, session
    /// and CSRF tokens.
    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// A new run id: `prefix` and 24 random hex digits.
    static func newRunID(_ prefix: String = "run_") -> String {
        prefix + randomHex(bytes: 12)
    }

    /// The approval `id` if its run is the caller's tenant's; 404 otherwise, missing or not.
    static func ownApproval(_ id: String, of caller: APIKeyRecord, in store: any RunStore) async throws -> ApprovalRecord {
        guard let record = try await storing({ try await store.approval(id: id) }),
            try await storing({ try await store.run(id: record.request.runID) })?.tenant == caller.tenant
        else { throw APIError.notFound("approval '\(id)'") }
        return record
    }

    /// The items whose run (`runID`) is `tenant`'s, each run read once; an item of no run is left out.
    static func owned<Item>(_ items: [Item], by tenant: String, in store: any RunStore, runID: (Item) -> String?) async throws -> [Item] {
        var owner: [String: Bool] = [:]
        var kept: [Item] = []
        for item in items {
            guard let run = runID(item) else { continue }
            if owner[run] == nil { owner[run] = try await storing { try await store.run(id: run) }?.tenant == tenant }
            if owner[run] == true { kept.append(item) }
        }
        return kept
    }

    /// The run `id` if it is the caller's tenant's; 404 otherwise, missing or not.
    static func ownRun(_ id: String, of caller: APIKeyRecord, in store: any RunStore) async throws -> RunRecord {
        guard let run = try await storing({ try await store.run(id: id) }), run.tenant == caller.tenant else { throw APIError.notFound("run '\(id)'") }
        return run
    }
}
