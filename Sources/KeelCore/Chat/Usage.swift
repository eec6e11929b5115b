/// Tokens a model call used, as the provider reported them — or, when it reported none, as Keel
/// estimated them (``isEstimated``).
///
/// `cachedInputTokens` is the part of `inputTokens` the provider served from its prompt cache
/// (billed lower), `cacheWriteInputTokens` the part it wrote to the cache (billed higher, by
/// Anthropic), and `reasoningTokens` the part of `outputTokens` spent on hidden reasoning.
public struct Usage: Sendable, Hashable {
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var outputTokens: Int
    public var reasoningTokens: Int
    /// The part of ``inputTokens`` written to the provider's prompt cache. Default: 0.
    public var cacheWriteInputTokens: Int
    /// Whether the counts are Keel's estimate, because the response carried no usage (a stream
    /// without its usage chunk, a server that leaves it out). Budgets settle on the estimate, and
    /// `keel costs` marks it. A sum is estimated when any part of it is.
    public var isEstimated: Bool

    public init(
        inputTokens: Int = 0, cachedInputTokens: Int = 0, outputTokens: Int = 0, reasoningTokens: Int = 0, cacheWriteInputTokens: Int = 0,
        isEstimated: Bool = false
    ) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
        self.cacheWriteInputTokens = cacheWriteInputTokens
        self.isEstimated = isEstimated
    }

    /// No tokens.
    public static let zero = Usage()

    /// The most tokens one model call is believed to use in any one count: a billion, far above any
    /// context window. A provider that reports more (or less than zero) is not believed.
    public static let plausibleMaximum = 1_000_000_000

    /// Whether every count is from zero to ``plausibleMaximum``.
    public var isPlausible: Bool {
        [inputTokens, cachedInputTokens, outputTokens, reasoningTokens, cacheWriteInputTokens].allSatisfy { (0...Self.plausibleMaximum).contains($0) }
    }

    /// Input plus output tokens (at most `Int.max`: sums saturate instead of trapping).
    public var totalTokens: Int { inputTokens.addingSaturating(outputTokens) }

    /// The sum of two usages; each count saturates at `Int.max` instead of trapping.
    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(
            inputTokens: lhs.inputTokens.addingSaturating(rhs.inputTokens),
            cachedInputTokens: lhs.cachedInputTokens.addingSaturating(rhs.cachedInputTokens),
            outputTokens: lhs.outputTokens.addingSaturating(rhs.outputTokens),
            reasoningTokens: lhs.reasoningTokens.addingSaturating(rhs.reasoningTokens),
            cacheWriteInputTokens: lhs.cacheWriteInputTokens.addingSaturating(rhs.cacheWriteInputTokens),
            isEstimated: lhs.isEstimated || rhs.isEstimated)
    }

    public static func += (lhs: inout Usage, rhs: Usage) {
        lhs = lhs + rhs
    }
}

extension Usage: Codable {
    private enum CodingKeys: String, CodingKey {
        case inputTokens, cachedInputTokens, outputTokens, reasoningTokens, cacheWriteInputTokens, isEstimated
    }

    // The two later fields are optional, so that journals written before them read as before, and
    // written only when set, so that what was written before is written the same.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            inputTokens: try container.decode(Int.self, forKey: .inputTokens),
            cachedInputTokens: try container.decode(Int.self, forKey: .cachedInputTokens),
            outputTokens: try container.decode(Int.self, forKey: .outputTokens),
            reasoningTokens: try container.decode(Int.self, forKey: .reasoningTokens),
            cacheWriteInputTokens: try container.decodeIfPresent(Int.self, forKey: .cacheWriteInputTokens) ?? 0,
            isEstimated: try container.decodeIfPresent(Bool.self, forKey: .isEstimated) ?? false)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(inputTokens, forKey: .inputTokens)
        try container.encode(cachedInputTokens, forKey: .cachedInputTokens)
        try container.encode(outputTokens, forKey: .outputTokens)
        try container.encode(reasoningTokens, forKey: .reasoningTokens)
        if cacheWriteInputTokens != 0 { try container.encode(cacheWriteInputTokens, forKey: .cacheWriteInputTokens) }
        if isEstimated { try container.encode(isEstimated, forKey: .isEstimated) }
    }
}

extension Int {
    /// `self + other`, or `Int.max` / `Int.min` where that would overflow: token counts come from
    /// outside (a provider, a flag) and adding them must never trap.
    package func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
