import Foundation
import KeelHTTP

/// Where and how to reach Anthropic's Messages API (or a server compatible with it).
///
/// ```swift
/// let configuration = AnthropicConfiguration.fromEnvironment(ProcessInfo.processInfo.environment)
/// let model = AnthropicChatModel(name: "claude-sonnet-4-5", configuration: configuration)
/// ```
public struct AnthropicConfiguration: Sendable, CustomStringConvertible {
    /// The API root, including its version path. Default: `https://api.anthropic.com/v1`.
    public var baseURL: String = "https://api.anthropic.com/v1"
    /// The key sent as `x-api-key`; `nil` or empty sends none (local servers). Default: `nil`.
    public var apiKey: String?
    /// The `anthropic-version` header. Default: `2023-06-01`.
    public var version: String = "2023-06-01"
    /// Values of the `anthropic-beta` header, if any. Default: none.
    public var betas: [String] = []
    /// Headers added to every request (for gateways and proxies). Default: none.
    public var extraHeaders: [(String, String)] = []
    /// Extended thinking: the tokens the model may spend reasoning before it replies, sent as
    /// `thinking.budget_tokens`; the request's `max_tokens` is then the reply's own limit plus this
    /// budget, and its temperature is left to the API (which requires the default with thinking).
    /// The thinking blocks are kept in the transcript with their signatures and sent back on later
    /// turns. `nil`: no thinking. Default: `nil`.
    public var thinkingBudget: Int?
    /// Where requests carry `cache_control` markers. Default: ``PromptCaching/automatic``.
    public var promptCaching: PromptCaching = .automatic
    /// Whether budgets count a request's input with the API's own count
    /// (`POST /messages/count_tokens`, free but rate-limited) before each budgeted call, instead
    /// of Keel's estimate (`cl100k_base` plus 20 %, ``KeelCore/TokenEstimate``). One more round
    /// trip a call; a count that fails falls back to the estimate. Set by
    /// `ANTHROPIC_COUNT_TOKENS=1`. Default: `false`.
    public var countsTokens: Bool = false
    /// The longest a whole request may take, reading the reply included. Default: 10 minutes.
    public var requestTimeout: Duration = .seconds(600)
    /// The longest a reply that has begun may go without sending anything. Default: 2 minutes.
    public var idleTimeout: Duration = .seconds(120)
    /// The largest non-streamed reply accepted. Default: 16 MiB.
    public var maximumResponseBytes: Int = 16 << 20
    /// The most bytes a streamed reply may send in all. Default: 64 MiB.
    public var maximumStreamBytes: Int = 64 << 20

    public init(baseURL: String = "https://api.anthropic.com/v1", apiKey: String? = nil) {
        self.baseURL = baseURL
        self.apiKey = apiKey
    }

    /// The configuration from `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and
    /// `ANTHROPIC_COUNT_TOKENS` in `environment`.
    public static func fromEnvironment(_ environment: [String: String]) -> AnthropicConfiguration {
        var configuration = AnthropicConfiguration()
        if let baseURL = environment["ANTHROPIC_BASE_URL"], !baseURL.isEmpty { configuration.baseURL = baseURL }
        if let key = environment["ANTHROPIC_API_KEY"], !key.isEmpty { configuration.apiKey = key }
        configuration.countsTokens = ["1", "true", "yes"].contains(environment["ANTHROPIC_COUNT_TOKENS"]?.lowercased() ?? "")
        return configuration
    }

    /// The secrets a message must never show: the API key, the values of ``extraHeaders`` and the
    /// user information of ``baseURL``.
    var secrets: [String] {
        var secrets = [apiKey].compactMap { $0 } + extraHeaders.map(\.1)
        if let components = URLComponents(string: baseURL), let password = components.percentEncodedPassword { secrets.append(password) }
        return secrets
    }

    /// The transport's half of the configuration.
    var endpoint: ProviderEndpoint {
        var headers: [(String, String)] = [("anthropic-version", version)]
        if let apiKey, !apiKey.isEmpty { headers.append(("x-api-key", apiKey)) }
        if !betas.isEmpty { headers.append(("anthropic-beta", betas.joined(separator: ","))) }
        return ProviderEndpoint(
            baseURL: baseURL, headers: headers + extraHeaders, requestTimeout: requestTimeout, idleTimeout: idleTimeout,
            maximumResponseBytes: maximumResponseBytes, maximumStreamBytes: maximumStreamBytes, secrets: secrets)
    }

    /// The configuration with the API key and header values redacted.
    public var description: String {
        let key = (apiKey?.isEmpty ?? true) ? "none" : "<redacted>"
        let endpoint = self.endpoint
        return "AnthropicConfiguration(baseURL: \(endpoint.redacting(baseURL)), apiKey: \(key), version: \(version))"
    }
}

/// Where a request marks its prefix for Anthropic's prompt cache (`cache_control`), so that a
/// long agent run reads its tools, system prompt and conversation so far from the cache — at a
/// tenth of the input price — instead of paying for them on every call. A marker on a prefix
/// shorter than the model's minimum (about 1,024 tokens) is ignored by the API, at no cost.
public struct PromptCaching: Sendable, Hashable {
    /// The last tool definition: the tools are cached.
    public var tools: Bool
    /// The system prompt: tools and system prompt are cached.
    public var system: Bool
    /// The last block of the conversation: everything up to this request is cached for the next.
    public var conversation: Bool

    public init(tools: Bool, system: Bool, conversation: Bool) {
        self.tools = tools
        self.system = system
        self.conversation = conversation
    }

    /// Tools, system prompt and conversation (three of the four markers a request may carry).
    public static let automatic = PromptCaching(tools: true, system: true, conversation: true)
    /// No markers.
    public static let off = PromptCaching(tools: false, system: false, conversation: false)
}
