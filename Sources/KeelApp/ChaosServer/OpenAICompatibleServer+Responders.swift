import KeelCore
import KeelOpenAI
import Synchronization

extension OpenAICompatibleServer.Responder {
    /// Answers with the given replies in order; once they run out, with a 500 that says so.
    public static func scripted(_ replies: [ServerReply]) -> Self {
        let queue = Mutex(replies[...])
        return Self { _ in
            queue.withLock { $0.popFirst() }
                ?? .error(status: 500, message: "The server's script has no reply left.", type: "server_error")
        }
    }

    /// Speaks `model` over HTTP (as an OpenAI-compatible server, or as Anthropic's on
    /// `/v1/messages`): each request is read as a ``ChatRequest``, given to the model,
    /// and its reply (or its ``ModelError``, as the matching status) sent back.
    public static func model(_ model: any ChatModel) -> Self {
        Self { request in
            do {
                return .chat(try await model.respond(to: try request.chatRequest()))
            } catch {
                return ServerReply(modelError: ModelError.classify(error))
            }
        }
    }
}

extension ServerReply {
    /// The HTTP reply a provider would send for `error`.
    public init(modelError error: ModelError) {
        let status: Int
        switch error.code {
        case .rateLimited: status = 429
        case .overloaded: status = 503
        case .timeout: status = 408
        case .authentication: status = 401
        case .invalidRequest, .contextLengthExceeded: status = 400
        default: status = error.statusCode ?? 500
        }
        var headers: [(String, String)] = []
        if let retryAfter = error.retryAfter { headers.append(("retry-after", String(retryAfter.saturatingMilliseconds / 1000))) }
        let code = error.code == .contextLengthExceeded ? "context_length_exceeded" : error.providerCode
        self = .error(status: status, message: error.message, type: error.code.rawValue, code: code, headers: headers)
    }
}
