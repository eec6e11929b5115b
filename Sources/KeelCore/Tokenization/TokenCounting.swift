extension BPETokenizer {
    /// The encoding OpenAI's `model` counts with (`provider:` in front or not): `o200k_base` for
    /// GPT-4o, GPT-4.1, GPT-4.5, GPT-5, the o-series and later; `cl100k_base` for GPT-4,
    /// GPT-3.5 and the embedding models; `nil` for a model that is not OpenAI's.
    public static func encodingName(forModel model: String) -> String? {
        let name = (model.firstIndex(of: ":").map { String(model[model.index(after: $0)...]) } ?? model).lowercased()
        let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "chatgpt-4o", "o1", "o3", "o4", "codex"]
        if o200k.contains(where: { name.hasPrefix($0) }) { return "o200k_base" }
        if ["gpt-4", "gpt-3.5", "text-embedding"].contains(where: { name.hasPrefix($0) }) { return "cl100k_base" }
        return nil
    }

    /// The tokenizer `model` counts with (see ``encodingName(forModel:)``); `cl100k_base` for
    /// models that are not OpenAI's.
    public static func forModel(_ model: String) throws -> BPETokenizer {
        encodingName(forModel: model) == "o200k_base" ? try o200kBase() : try cl100kBase()
    }
}

/// Token counts for a model whose own count Keel does not have: for budgets before a call, and
/// for the usage of a reply that carried none.
public enum TokenEstimate {
    /// How much more Claude's tokenizer is assumed to count than `cl100k_base`. Anthropic does not
    /// publish its tokenizer; its count-tokens endpoint (``KeelCore/TokenCountingModel``) gives the
    /// exact count when it is configured.
    public static let claudeMargin = 1.2

    /// A counter of the tokens of a text on `model`: the model's own encoding for OpenAI models,
    /// `cl100k_base` plus ``claudeMargin`` for Claude (`anthropic:` or `claude-`), and
    /// `cl100k_base` for any other.
    public static func counter(forModel model: String) throws -> TokenCounter {
        let name = model.lowercased()
        if name.hasPrefix("anthropic:") || name.contains("claude") {
            let tokenizer = try BPETokenizer.cl100kBase()
            return TokenCounter(name: "claude-estimate") { text in Int((Double(tokenizer.count(text)) * claudeMargin).rounded(.up)) }
        }
        let tokenizer = try BPETokenizer.forModel(model)
        return TokenCounter(name: tokenizer.name) { tokenizer.count($0) }
    }
}

/// Counts the tokens of a text one way, named so that counts made different ways are not mixed.
public struct TokenCounter: Sendable {
    /// Which way it counts, such as `o200k_base`.
    public var name: String
    public var count: @Sendable (String) -> Int

    public init(name: String, count: @escaping @Sendable (String) -> Int) {
        self.name = name
        self.count = count
    }
}

/// A model that can count a request's input tokens exactly, as its provider will (Anthropic's
/// count-tokens endpoint, say).
///
/// Budgets use the count instead of an estimate when ``countsInputTokens`` is `true`.
public protocol TokenCountingModel: ChatModel {
    /// Whether to ask for counts (a round trip each): the model's configuration decides.
    var countsInputTokens: Bool { get }
    /// The input tokens `request` would be billed.
    func countInputTokens(_ request: ChatRequest) async throws -> Int
}

extension ChatRequest {
    /// The input tokens of this request, its texts counted with `count`: each message's text
    /// and tool calls, each tool's name, description and schema, and a few tokens a message and
    /// a tool for the framing providers add.
    public func inputTokens(countedWith count: (String) -> Int) -> Int {
        var input = 3
        for message in messages {
            input = input.addingSaturating(4 + count(message.text ?? ""))
            if case .assistant(let reply) = message {
                for call in reply.toolCalls { input = input.addingSaturating(4 + count(call.name) + count(call.arguments)) }
            }
        }
        for tool in tools {
            input = input.addingSaturating(8 + count(tool.name) + count(tool.description) + count(tool.parameters.jsonValue.serialized()))
        }
        return input
    }
}

extension Usage {
    /// Keel's estimate of a call that reported no usage: the request's input and the reply's
    /// text, tool calls and thinking, counted with `count`; marked ``isEstimated``.
    public static func estimate(of request: ChatRequest, reply: AssistantMessage, countedWith count: (String) -> Int) -> Usage {
        var output = count(reply.text ?? "")
        for call in reply.toolCalls { output = output.addingSaturating(4 + count(call.name) + count(call.arguments)) }
        for block in reply.thinking { output = output.addingSaturating(count(block.text)) }
        return Usage(inputTokens: request.inputTokens(countedWith: count), outputTokens: output, isEstimated: true)
    }

    /// Whether every count is zero: a reply that carried no usage.
    public var isEmpty: Bool {
        inputTokens == 0 && cachedInputTokens == 0 && outputTokens == 0 && reasoningTokens == 0 && cacheWriteInputTokens == 0
    }
}
