import KeelCore

/// An ordered chain of models: each call goes to the first, and to the next when a model fails
/// with one of the chosen error classes (overloaded, a rate limit past its wait, a context too
/// long …). Other errors, and the last model's, are thrown.
///
/// The reply says which model answered in ``KeelCore/ChatResponse/servedBy``, and costs are
/// priced by it. Before the call, budgets check the worst case at the highest price in the chain,
/// since any of its models may serve it.
public struct FallbackModel: ChatModel {
    public let models: [any ChatModel]
    /// The error classes that move the call to the next model. Default: overloaded, rate limited,
    /// server, timeout, connection and context length exceeded.
    public var switchOn: Set<ModelError.Code>

    public var provider: String { "fallback" }
    public var name: String { models.map(\.identifier).joined(separator: ",") }

    public init(_ models: [any ChatModel], switchOn: Set<ModelError.Code> = [.overloaded, .rateLimited, .server, .timeout, .connection, .contextLengthExceeded]) {
        self.models = models
        self.switchOn = switchOn
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        try await attempt { model in try await model.respond(to: request) }
    }

    public func stream(_ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void) async throws -> ChatResponse {
        try await attempt { model in try await model.stream(request, onEvent: onEvent) }
    }

    private func attempt(_ call: (any ChatModel) async throws -> ChatResponse) async throws -> ChatResponse {
        var lastError: (any Error)?
        for (index, model) in models.enumerated() {
            do {
                var response = try await call(model)
                if response.servedBy == nil { response.servedBy = model.identifier }
                return response
            } catch let error as ModelError where switchOn.contains(error.code) && index < models.count - 1 {
                lastError = error
            }
        }
        throw lastError ?? ModelError(.invalidRequest, message: "the fallback chain has no models")
    }
}
