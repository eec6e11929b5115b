import AsyncHTTPClient
import KeelCore
import KeelHTTP
import Logging

extension ProviderDialect {
    /// OpenAI's: `x-ratelimit-*` and `retry-after(-ms)` headers, errors in the common shape.
    static let openAI = ProviderDialect(rateLimit: { RateLimitHeaders.parse($0) })
}

extension ProviderTransport {
    /// The transport to the server `configuration` names.
    init(openAI configuration: OpenAIConfiguration, client: HTTPClient, logger: Logger) {
        self.init(endpoint: configuration.endpoint, dialect: .openAI, client: client, logger: logger)
    }
}
