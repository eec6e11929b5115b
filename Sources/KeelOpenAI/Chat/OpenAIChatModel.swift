import AsyncHTTPClient
import Foundation
import KeelCore
import KeelHTTP
import Logging
import NIOCore
import NIOHTTP1

/// A model behind the OpenAI Chat Completions API or any server compatible with it (vLLM, Ollama,
/// llama.cpp, LM Studio, OpenRouter, Groq).
///
/// ```swift
/// let model = OpenAIChatModel(name: "gpt-4o-mini", configuration: .fromEnvironment(ProcessInfo.processInfo.environment))
/// let reply = try await model.respond(to: ChatRequest(messages: [.user("Hi")], maxOutputTokens: 50))
/// ```
///
/// Failures are thrown as ``ModelError`` with the HTTP status, the provider's message and the
/// rate-limit headers (`Retry-After` included) of the response.
public struct OpenAIChatModel: ChatModel {
    public let provider = "openai"
    public let name: String
    public let configuration: OpenAIConfiguration
    private let transport: ProviderTransport
    private let logger: Logger

    /// A model named `name` at the configured server, using `client` (default: ``AsyncHTTPClient/HTTPClient/keel``).
    public init(name: String, configuration: OpenAIConfiguration = OpenAIConfiguration(), client: HTTPClient = .keel, logger: Logger = Logger(label: "keel.openai")) {
        self.name = name
        self.configuration = configuration
        self.transport = ProviderTransport(openAI: configuration, client: client, logger: logger)
        self.logger = logger
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let body = ChatCompletionsWire.requestBody(
            request, model: name, stream: false, includeStreamUsage: false, maxTokensParameter: configuration.effectiveMaxTokensParameter)
        return try await transport.exchange("/chat/completions", body: body) { json, rateLimit throws(ModelError) in
            try ChatCompletionsWire.parseResponse(json, rateLimit: rateLimit)
        }
    }

    public func stream(_ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void) async throws -> ChatResponse {
        do {
            return try await streamReply(request, onEvent: onEvent)
        } catch let error as ModelError {
            throw transport.redacting(error)
        }
    }

    private func streamReply(_ request: ChatRequest, onEvent: (ChatStreamEvent) async throws -> Void) async throws -> ChatResponse {
        let body = ChatCompletionsWire.requestBody(
            request, model: name, stream: true, includeStreamUsage: configuration.includeUsageInStreams,
            maxTokensParameter: configuration.effectiveMaxTokensParameter)
        let reply = try await transport.post("/chat/completions", body: body)
        guard reply.isSuccess else {
            _ = try await transport.readJSON(reply)  // throws the error the status and body describe
            throw ModelError(.server, message: "HTTP \(reply.status).", statusCode: reply.status, rateLimit: reply.rateLimit)
        }
        var accumulator = ChatResponseAccumulator()
        accumulator.rateLimit = reply.rateLimit
        var sawDone = false
        var sawUsage = false
        do {
            return try await readStream(reply, into: &accumulator, sawDone: &sawDone, sawUsage: &sawUsage, onEvent: onEvent)
        } catch var error as ModelError {
            // The server accepted the request: what it generated before the failure is billed.
            if error.billing == .notBilled { error.billing = sawUsage ? .usage(accumulator.usage) : .unknown }
            throw error
        }
    }

    private func readStream(
        _ reply: ProviderTransport.Reply, into accumulator: inout ChatResponseAccumulator, sawDone: inout Bool, sawUsage: inout Bool,
        onEvent: (ChatStreamEvent) async throws -> Void
    ) async throws -> ChatResponse {
        let rateLimit = accumulator.rateLimit
        let status = reply.status
        try await transport.readEvents(reply) { events in
            for event in events where !sawDone {
                if event.data == "[DONE]" {
                    sawDone = true
                    continue
                }
                let chunk: JSONValue
                do {
                    chunk = try JSONValue(parsing: event.data)
                } catch {
                    throw ModelError(.malformedResponse, message: "A streamed chunk is not JSON (\(error)).", statusCode: status)
                }
                if chunk["usage"]?.objectValue != nil { sawUsage = true }
                for delta in try ChatCompletionsWire.applyChunk(chunk, to: &accumulator, rateLimit: rateLimit) {
                    try await onEvent(delta)
                }
            }
            return sawDone
        }
        guard sawDone || accumulator.finishReason != nil else {
            throw ModelError(.malformedResponse, message: "The stream ended before the reply was complete.", statusCode: status)
        }
        if !sawUsage && configuration.includeUsageInStreams {
            logger.warning("the server sent no usage for a streamed reply; its tokens are counted as zero", metadata: ["url": "\(reply.url)"])
        }
        return accumulator.response()
    }
}
