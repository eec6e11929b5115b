/// Tokens a model call used, as the provider reported them.
///
/// `cachedInputTokens` is the part of `inputTokens` the provider served from its prompt cache
/// (billed lower), and `reasoningTokens` the part of `outputTokens` spent on hidden reasoning.
public struct Usage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var outputTokens: Int
    public var reasoningTokens: Int

    public init(inputTokens: Int = 0, cachedInputTokens: Int = 0, outputTokens: Int = 0, reasoningTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
    }

    /// No tokens.
    public static let zero = Usage()

    /// The most tokens one model call is believed to use in any one count: a billion, far above any
    /// context window. A provider that reports more (or less than zero) is not believed.
    public static let plausibleMaximum = 1_000_000_000

    /// Whether every count is from zero to ``plausibleMaximum``.
    public var isPlausible: Bool {
        [inputTokens, cachedInputTokens, outputTokens, reasoningTokens].allSatisfy { (0...Self.plausibleMaximum).contains($0) }
    }

    /// Input plus output tokens (at most `Int.max`: sums saturate instead of trapping).
    public var totalTokens: Int { inputTokens.addingSaturating(outputTokens) }

    /// The sum of two usages; each count saturates at `Int.max` instead of trapping.
    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(
            inputTokens: lhs.inputTokens.addingSaturating(rhs.inputTokens),
            cachedInputTokens: lhs.cachedInputTokens.addingSaturating(rhs.cachedInputTokens),
            outputTokens: lhs.outputTokens.addingSaturating(rhs.outputTokens),
            reasoningTokens: lhs.reasoningTokens.addingSaturating(rhs.reasoningTokens))
    }

    public static func += (lhs: inout Usage, rhs: Usage) {
        lhs = lhs + rhs
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
