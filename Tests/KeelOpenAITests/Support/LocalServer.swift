import KeelApp
import KeelCore
import KeelOpenAI
import KeelTesting

/// Runs `body` with a model that talks to a local server answering with `responder`.
func withLocalModel<T: Sendable>(
    _ responder: OpenAICompatibleServer.Responder, configure: (inout OpenAIConfiguration) -> Void = { _ in },
    _ body: (OpenAIChatModel, OpenAICompatibleServer) async throws -> T
) async throws -> T {
    try await OpenAICompatibleServer.withServer(responder: responder) { server in
        var configuration = OpenAIConfiguration(baseURL: server.baseURL, apiKey: "sk-test-key")
        configure(&configuration)
        return try await body(OpenAIChatModel(name: "gpt-test", configuration: configuration), server)
    }
}

/// Runs `body` expecting it to throw a ``ModelError``, and returns that error.
func expectModelError(_ body: () async throws -> Void) async -> ModelError? {
    do {
        try await body()
        return nil
    } catch let error as ModelError {
        return error
    } catch {
        return ModelError(.malformedResponse, message: "unexpected error type: \(error)")
    }
}
