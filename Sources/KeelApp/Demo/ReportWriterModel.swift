import KeelCore

/// An offline model that writes plausible report prose, the same text for the same request on
/// every machine and in every process — so a resumed report can be compared byte for byte with an
/// uninterrupted one. Its length follows the request's output limit (about a third of it, at most
/// 400 tokens), like a model asked for a section.
public struct ReportWriterModel: ChatModel {
    public let provider = "test"
    public let name: String

    public init(name: String = "writer") {
        self.name = name
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let prompt = request.messages.compactMap(\.text).joined(separator: "\n")
        var generator = SplitMix64(seed: FNV1a.hash(prompt))
        let firstLine = request.messages.last { if case .user = $0 { true } else { false } }?.text?.split(separator: "\n").first ?? ""
        let title = firstLine.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "This section"
        let targetTokens = min(400, max(40, request.maxOutputTokens / 3))
        var sentences = ["\(title.hasSuffix(".") ? String(title.dropLast()) : title) is the subject of this section."]
        var tokens = UsageEstimate.tokens(in: sentences[0])
        while tokens < targetTokens {
            let sentence = Self.sentence(&generator)
            sentences.append(sentence)
            tokens += UsageEstimate.tokens(in: sentence)
        }
        let text = sentences.joined(separator: " ")
        return ChatResponse(
            model: name, message: AssistantMessage(text: text),
            usage: Usage(inputTokens: UsageEstimate.tokens(in: request), outputTokens: UsageEstimate.tokens(in: text)), finishReason: .stop)
    }

    private static let subjects = ["Revenue in the northern region", "The cost of customer support", "Churn among new accounts", "Median delivery time", "The share of repeat orders", "Gross margin on services", "Adoption of the mobile app", "Inventory turnover", "The backlog of open tickets", "Spending on cloud compute"]
    private static let verbs = ["rose by", "fell by", "held steady at", "recovered to", "doubled to", "slipped to", "grew by", "narrowed to"]
    private static let amounts = ["4 percent", "12 percent", "a third", "two points", "18 days", "$1.2 million", "9 percent", "half"]
    private static let clauses = ["after the pricing change in March", "as the new process took hold", "despite seasonal demand", "in line with the forecast", "ahead of the plan", "once the backlog cleared", "while headcount stayed flat", "against a weak comparison quarter"]
    private static let readings = ["This suggests the trend will continue into next year.", "The data do not yet show whether this will last.", "We recommend watching this closely next quarter.", "Two teams explain most of the change.", "The effect is larger for small customers.", "Earlier sections point the same way."]

    private static func sentence(_ generator: inout SplitMix64) -> String {
        if generator.next() % 4 == 0 { return readings[Int(generator.next() % UInt64(readings.count))] }
        let parts = [subjects, verbs, amounts, clauses].map { $0[Int(generator.next() % UInt64($0.count))] }
        return "\(parts[0]) \(parts[1]) \(parts[2]) \(parts[3])."
    }
}

/// A small deterministic random number generator.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
