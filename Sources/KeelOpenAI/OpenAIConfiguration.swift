import Foundation
import KeelHTTP

/// Where and how to reach an OpenAI-compatible server.
///
/// The defaults talk to OpenAI itself; set ``baseURL`` for vLLM, Ollama, llama.cpp, LM Studio,
/// OpenRouter, Groq or any other server that speaks Chat Completions.
///
/// ```swift
/// var configuration = OpenAIConfiguration(apiKey: key)
/// configuration.baseURL = "http://127.0.0.1:11434/v1"  // Ollama
/// ```
public struct OpenAIConfiguration: Sendable, CustomStringConvertible {
    /// The API root, including its version path. Default: `https://api.openai.com/v1`.
    public var baseURL: String = "https://api.openai.com/v1"
    /// The bearer token; `nil` or empty sends no `Authorization` header (local servers). Default: `nil`.
    public var apiKey: String?
    /// The `OpenAI-Organization` header, if set. Default: `nil`.
    public var organization: String?
    /// The `OpenAI-Project` header, if set. Default: `nil`.
    public var project: String?
    /// Headers added to every request (for gateways and proxies). Default: none.
    public var extraHeaders: [(String, String)] = []
    /// How the request names the output token limit. Default: `max_completion_tokens` for
    /// api.openai.com, `max_tokens` (which every compatible server understands) elsewhere.
    public var maxTokensParameter: MaxTokensParameter?
    /// Ask for usage in streamed responses (`stream_options.include_usage`), so streamed usage
    /// is never silently zero. Turn off only for servers that reject the option. Default: `true`.
    public var includeUsageInStreams: Bool = true
    /// The longest a whole request may take, reading the reply included. Default: 10 minutes.
    public var requestTimeout: Duration = .seconds(600)
    /// The longest a reply that has begun may go without sending anything (between two pieces of a
    /// body or two events of a stream) before the request fails with a timeout. Waiting for the
    /// reply to begin is bounded by ``requestTimeout`` alone, because a server computes a whole
    /// non-streamed answer before it sends a byte. Raise it for models that think silently for
    /// long in the middle of a stream. Default: 2 minutes.
    public var idleTimeout: Duration = .seconds(120)
    /// The largest non-streamed reply accepted. Default: 16 MiB.
    public var maximumResponseBytes: Int = 16 << 20
    /// The most bytes a streamed reply may send in all (its events, keep-alives and all); a single
    /// line of it may hold 1 MiB and a single event 8 MiB. Default: 64 MiB.
    public var maximumStreamBytes: Int = 64 << 20

    /// The two spellings of the output token limit.
    public enum MaxTokensParameter: String, Sendable {
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
    }

    public init(baseURL: String = "https://api.openai.com/v1", apiKey: String? = nil) {
        self.baseURL = baseURL
        self.apiKey = apiKey
    }

    /// The configuration from `OPENAI_API_KEY` and `OPENAI_BASE_URL` in `environment`.
    public static func fromEnvironment(_ environment: [String: String]) -> OpenAIConfiguration {
        var configuration = OpenAIConfiguration()
        if let baseURL = environment["OPENAI_BASE_URL"], !baseURL.isEmpty { configuration.baseURL = baseURL }
        if let key = environment["OPENAI_API_KEY"], !key.isEmpty { configuration.apiKey = key }
        return configuration
    }

    /// The output-limit parameter in effect.
    public var effectiveMaxTokensParameter: MaxTokensParameter {
        if let maxTokensParameter { return maxTokensParameter }
        return baseURL.contains("api.openai.com") ? .maxCompletionTokens : .maxTokens
    }

    /// The secrets a message must never show: the API key, the values of ``extraHeaders`` and the
    /// user information of ``baseURL`` (each at least four characters long).
    var secrets: [String] {
        var secrets = [apiKey].compactMap { $0 } + extraHeaders.map(\.1)
        if let components = URLComponents(string: baseURL) {
            if let user = components.percentEncodedUser {
                secrets.append(user + (components.percentEncodedPassword.map { ":" + $0 } ?? "") + "@")
            }
            if let password = components.percentEncodedPassword { secrets.append(password) }
        }
        return secrets.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by `<redacted>`.
    func redacting(_ text: String) -> String {
        secrets.reduce(text) { text, secret in text.replacingOccurrences(of: secret, with: "<redacted>") }
    }

    /// The transport's half of the configuration: the API root, the credential headers and the
    /// limits, with the secrets to keep out of messages.
    var endpoint: ProviderEndpoint {
        var headers: [(String, String)] = []
        if let apiKey, !apiKey.isEmpty { headers.append(("Authorization", "Bearer \(apiKey)")) }
        if let organization { headers.append(("OpenAI-Organization", organization)) }
        if let project { headers.append(("OpenAI-Project", project)) }
        return ProviderEndpoint(
            baseURL: baseURL, headers: headers + extraHeaders, requestTimeout: requestTimeout, idleTimeout: idleTimeout,
            maximumResponseBytes: maximumResponseBytes, maximumStreamBytes: maximumStreamBytes, secrets: secrets)
    }

    /// The configuration with the API key, header values and any password in the URL redacted.
    public var description: String {
        let key = (apiKey?.isEmpty ?? true) ? "none" : "<redacted>"
        let headers = extraHeaders.isEmpty ? "" : ", extraHeaders: [" + extraHeaders.map { "\($0.0): <redacted>" }.joined(separator: ", ") + "]"
        return "OpenAIConfiguration(baseURL: \(redacting(baseURL)), apiKey: \(key)\(headers))"
    }
}
