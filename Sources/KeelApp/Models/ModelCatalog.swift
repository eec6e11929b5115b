import Foundation
import KeelCore
import KeelAnthropic
import KeelOpenAI
import KeelRuntime

/// The models a spec string names — `openai:gpt-4o-mini`, `test`, `arithmetic`, `writer` — and
/// the one place a provider registers: `keel --model`, the workflows and their resumes all go
/// through it.
///
/// ```swift
/// let model = try ModelCatalog.standard.model(for: "openai:gpt-4o-mini", baseURL: nil)
/// ```
public struct ModelCatalog: Sendable {
    /// Makes the model `name` of a provider (the part after `provider:`, `nil` without one), at
    /// `baseURL` when given, with keys from `environment`.
    public typealias Maker = @Sendable (_ name: String?, _ baseURL: String?, _ environment: [String: String]) throws -> any ChatModel

    /// A spec that names no model this catalog knows, or names one badly.
    public struct SpecError: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    private var makers: [String: Maker]
    /// The providers that call no server.
    public private(set) var offlineProviders: Set<String>

    public init() {
        makers = [:]
        offlineProviders = []
    }

    /// Registers `provider` (the part before `:` in a spec).
    public mutating func register(_ provider: String, offline: Bool = false, _ maker: @escaping Maker) {
        makers[provider] = maker
        if offline { offlineProviders.insert(provider) } else { offlineProviders.remove(provider) }
    }

    /// The offline models (`test`, `arithmetic`, `writer`, `editor`, `crew`), OpenAI-compatible servers
    /// (`openai:NAME`, with `OPENAI_API_KEY` and `OPENAI_BASE_URL` or a base URL) and Anthropic's
    /// Messages API (`anthropic:NAME`, with `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`).
    public static let standard: ModelCatalog = {
        var catalog = ModelCatalog()
        catalog.register("test", offline: true) { _, _, _ in TestModel() }
        catalog.register("arithmetic", offline: true) { _, _, _ in ArithmeticModel() }
        catalog.register("writer", offline: true) { _, _, _ in ReportWriterModel() }
        catalog.register("editor", offline: true) { _, _, _ in EditorModel() }
        catalog.register("crew", offline: true) { _, _, _ in CrewModel() }
        catalog.register("openai") { name, baseURL, environment in
            guard let name, !name.isEmpty else { throw SpecError("--model openai needs a model name, as in openai:gpt-4o-mini") }
            var configuration = OpenAIConfiguration.fromEnvironment(environment)
            configuration.baseURL = try checkedBaseURL(baseURL ?? configuration.baseURL)
            return OpenAIChatModel(name: name, configuration: configuration)
        }
        catalog.register("anthropic") { name, baseURL, environment in
            guard let name, !name.isEmpty else { throw SpecError("--model anthropic needs a model name, as in anthropic:claude-sonnet-4-5") }
            var configuration = AnthropicConfiguration.fromEnvironment(environment)
            configuration.baseURL = try checkedBaseURL(baseURL ?? configuration.baseURL)
            return AnthropicChatModel(name: name, configuration: configuration)
        }
        return catalog
    }()

    /// `url` when it is an http or https URL with a host.
    static func checkedBaseURL(_ url: String) throws -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil else {
            throw SpecError("--base-url must be an http or https URL, got '\(url)'")
        }
        return url
    }

    /// The model `spec` names.
    public func model(for spec: String, baseURL: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any ChatModel {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        let provider = parts.first ?? ""
        guard let maker = makers[provider] else {
            let known = makers.keys.sorted().map { offlineProviders.contains($0) ? $0 : "\($0):NAME" }
            throw SpecError("unknown model '\(spec)': use \(known.joined(separator: ", "))")
        }
        return try maker(parts.count > 1 ? parts[1] : nil, baseURL, environment)
    }

    /// Whether `spec` names a model that calls no server.
    public func isOffline(_ spec: String) -> Bool {
        offlineProviders.contains(String(spec.prefix { $0 != ":" }))
    }
}

/// A model as a durable run remembers it: the spec and base URL, never the key (which is read
/// from the environment of whichever process resumes the run).
public struct ModelSpec: Codable, Sendable, Hashable {
    public var spec: String
    public var baseURL: String?
    /// The models that answer, in order, when this one fails with an error a fallback is for
    /// (overloaded, rate limited, server errors, timeouts, connections, context length) — each
    /// at its provider's own base URL from the environment. `nil` or empty: none.
    public var fallbacks: [ModelSpec]?

    public init(spec: String, baseURL: String? = nil, fallbacks: [ModelSpec] = []) {
        self.spec = spec
        self.baseURL = baseURL
        self.fallbacks = fallbacks.isEmpty ? nil : fallbacks
    }

    /// The model, from the standard catalog: a ``KeelRuntime/FallbackModel`` when it has
    /// fallbacks (each call is priced by the model that served it).
    public func makeModel(catalog: ModelCatalog = .standard) throws -> any ChatModel {
        let model = try catalog.model(for: spec, baseURL: baseURL)
        guard let fallbacks, !fallbacks.isEmpty else { return model }
        return FallbackModel([model] + (try fallbacks.map { try $0.makeModel(catalog: catalog) }))
    }

    /// Whether the model calls no server.
    public var isOffline: Bool { ModelCatalog.standard.isOffline(spec) }
}
