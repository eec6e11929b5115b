/// What a model costs, in US dollars per million tokens.
public struct ModelPrice: Sendable, Hashable, Codable {
    public var inputPerMillion: Double
    /// Input served from the provider's prompt cache.
    public var cachedInputPerMillion: Double
    /// Input written to the provider's prompt cache (Anthropic bills it above the input price).
    public var cacheWriteInputPerMillion: Double
    public var outputPerMillion: Double

    /// A price; the cached and cache-write input prices default to the input price.
    public init(inputPerMillion: Double, cachedInputPerMillion: Double? = nil, cacheWriteInputPerMillion: Double? = nil, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.cachedInputPerMillion = cachedInputPerMillion ?? inputPerMillion
        self.cacheWriteInputPerMillion = cacheWriteInputPerMillion ?? inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    /// The highest of the three input prices: what an input token can cost at most.
    public var highestInputPerMillion: Double { max(inputPerMillion, cachedInputPerMillion, cacheWriteInputPerMillion) }

    /// The cost of `usage` in US dollars. Cached and cache-written input tokens are part of the
    /// input tokens and billed at their own rates; reasoning tokens are part of the output tokens.
    public func cost(of usage: Usage) -> Double {
        let cached = min(max(usage.cachedInputTokens, 0), usage.inputTokens)
        let written = min(max(usage.cacheWriteInputTokens, 0), usage.inputTokens - cached)
        let uncached = usage.inputTokens - cached - written
        let input = Double(uncached) * inputPerMillion + Double(cached) * cachedInputPerMillion + Double(written) * cacheWriteInputPerMillion
        return (input + Double(usage.outputTokens) * outputPerMillion) / 1_000_000
    }
}

extension ModelPrice {
    private enum CodingKeys: String, CodingKey {
        case inputPerMillion, cachedInputPerMillion, cacheWriteInputPerMillion, outputPerMillion
    }

    /// Settings written before the cache-write price read with it at the input price.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            inputPerMillion: try container.decode(Double.self, forKey: .inputPerMillion),
            cachedInputPerMillion: try container.decodeIfPresent(Double.self, forKey: .cachedInputPerMillion),
            cacheWriteInputPerMillion: try container.decodeIfPresent(Double.self, forKey: .cacheWriteInputPerMillion),
            outputPerMillion: try container.decode(Double.self, forKey: .outputPerMillion))
    }
}

/// Prices by model name. Look-ups try the exact name, then the longest known prefix (so
/// `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`), with or without a `provider:` in front.
public struct PriceTable: Sendable, Hashable {
    public var prices: [String: ModelPrice]

    public init(_ prices: [String: ModelPrice]) {
        self.prices = prices
    }

    /// The price of `model` (`name` or `provider:name`), or `nil` when unknown.
    public func price(for model: String) -> ModelPrice? {
        if let price = prices[model] { return price }
        let name = model.firstIndex(of: ":").map { String(model[model.index(after: $0)...]) } ?? model
        if let price = prices[name] { return price }
        // The longest known prefix, without building a list of candidates (this runs per step).
        var best: (length: Int, price: ModelPrice)?
        for (key, price) in prices where name.hasPrefix(key) || model.hasPrefix(key) {
            let length = key.utf8.count
            if length > (best?.length ?? -1) { best = (length, price) }
        }
        return best?.price
    }

    /// The cost of `usage` on `model` in US dollars; `nil` when the model has no price.
    public func cost(of usage: Usage, model: String) -> Double? {
        price(for: model)?.cost(of: usage)
    }

    /// List prices of current OpenAI and Anthropic models (US dollars per million tokens, standard
    /// tier), and zero for Keel's offline test models. Override them for your contract.
    public static let defaults = PriceTable([
        "gpt-5": ModelPrice(inputPerMillion: 1.25, cachedInputPerMillion: 0.125, outputPerMillion: 10),
        "gpt-5-mini": ModelPrice(inputPerMillion: 0.25, cachedInputPerMillion: 0.025, outputPerMillion: 2),
        "gpt-5-nano": ModelPrice(inputPerMillion: 0.05, cachedInputPerMillion: 0.005, outputPerMillion: 0.40),
        "gpt-4.1": ModelPrice(inputPerMillion: 2, cachedInputPerMillion: 0.50, outputPerMillion: 8),
        "gpt-4.1-mini": ModelPrice(inputPerMillion: 0.40, cachedInputPerMillion: 0.10, outputPerMillion: 1.60),
        "gpt-4.1-nano": ModelPrice(inputPerMillion: 0.10, cachedInputPerMillion: 0.025, outputPerMillion: 0.40),
        "gpt-4o": ModelPrice(inputPerMillion: 2.50, cachedInputPerMillion: 1.25, outputPerMillion: 10),
        "gpt-4o-mini": ModelPrice(inputPerMillion: 0.15, cachedInputPerMillion: 0.075, outputPerMillion: 0.60),
        "o3": ModelPrice(inputPerMillion: 2, cachedInputPerMillion: 0.50, outputPerMillion: 8),
        "o4-mini": ModelPrice(inputPerMillion: 1.10, cachedInputPerMillion: 0.275, outputPerMillion: 4.40),
        "claude-opus-4": ModelPrice(inputPerMillion: 15, cachedInputPerMillion: 1.50, cacheWriteInputPerMillion: 18.75, outputPerMillion: 75),
        "claude-opus-4-5": ModelPrice(inputPerMillion: 5, cachedInputPerMillion: 0.50, cacheWriteInputPerMillion: 6.25, outputPerMillion: 25),
        "claude-sonnet-4": ModelPrice(inputPerMillion: 3, cachedInputPerMillion: 0.30, cacheWriteInputPerMillion: 3.75, outputPerMillion: 15),
        "claude-haiku-4-5": ModelPrice(inputPerMillion: 1, cachedInputPerMillion: 0.10, cacheWriteInputPerMillion: 1.25, outputPerMillion: 5),
        "claude-3-5-haiku": ModelPrice(inputPerMillion: 0.80, cachedInputPerMillion: 0.08, cacheWriteInputPerMillion: 1, outputPerMillion: 4),
        "test:": ModelPrice(inputPerMillion: 0, outputPerMillion: 0),
        "scripted:": ModelPrice(inputPerMillion: 0, outputPerMillion: 0),
    ])
}
