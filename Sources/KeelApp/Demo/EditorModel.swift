import Foundation
import KeelCore

/// The offline model of the research → draft → review graph: it writes notes and drafts as the
/// ``ReportWriterModel`` does, and answers a reviewer's request (a system prompt that starts
/// with "You review drafts") with JSON whose quality rises with the revision the draft names —
/// 0.35 for the first, 0.15 more for each after — so the graph loops a known number of times on
/// every machine.
public struct EditorModel: ChatModel {
    public let provider = "test"
    public let name: String
    private let writer: ReportWriterModel

    public init(name: String = "editor") {
        self.name = name
        writer = ReportWriterModel(name: name)
    }

    /// The system prompt that makes this model review.
    public static let reviewerPrompt = "You review drafts."

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        guard case .system(let system)? = request.messages.first, system.hasPrefix(Self.reviewerPrompt) else {
            return try await writer.respond(to: request)
        }
        let prompt = request.messages.compactMap(\.text).joined(separator: "\n")
        let revision = Self.revision(in: prompt)
        let quality = Double(min(100, 35 + 15 * max(0, revision - 1))) / 100
        let feedback = quality >= 0.8 ? "Ready to publish." : "Revision \(revision) needs more evidence on the main trend."
        let text = JSONValue.object(["quality": .number(quality), "feedback": .string(feedback)]).serialized()
        return ChatResponse(
            model: name, message: AssistantMessage(text: text),
            usage: Usage(inputTokens: UsageEstimate.tokens(in: request), outputTokens: UsageEstimate.tokens(in: text)), finishReason: .stop)
    }

    /// The number after the last "Revision " in `text`, 1 when there is none.
    static func revision(in text: String) -> Int {
        guard let range = text.range(of: "Revision ", options: .backwards) else { return 1 }
        return Int(text[range.upperBound...].prefix { $0.isNumber }) ?? 1
    }
}
