import KeelCore

/// A rough, deterministic token count (about four bytes a token) for the offline models and the
/// test models.
package enum UsageEstimate {
    package static func tokens(in text: String) -> Int {
        text.isEmpty ? 0 : max(1, (text.utf8.count + 3) / 4)
    }

    package static func tokens(in request: ChatRequest) -> Int {
        request.estimatedInputTokens
    }
}
