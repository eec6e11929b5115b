import AsyncHTTPClient
import KeelCore
import KeelHTTP
import Logging
import NIOCore

/// An embedding model behind the OpenAI embeddings API or a compatible server.
///
/// ```swift
/// let embedder = OpenAIEmbeddingModel(name: "text-embedding-3-small", configuration: configuration)
/// let vectors = try await embedder.embed(["first text", "second text"]).vectors
/// ```
public struct OpenAIEmbeddingModel: EmbeddingModel {
    public let provider = "openai"
    public let name: String
    public let configuration: OpenAIConfiguration
    /// Ask for vectors of this many dimensions (models that support it). Default: `nil`.
    public var dimensions: Int?
    private let transport: ProviderTransport

    public init(
        name: String, configuration: OpenAIConfiguration = OpenAIConfiguration(), dimensions: Int? = nil, client: HTTPClient = .keel,
        logger: Logger = Logger(label: "keel.openai")
    ) {
        self.name = name
        self.configuration = configuration
        self.dimensions = dimensions
        self.transport = ProviderTransport(openAI: configuration, client: client, logger: logger)
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        guard !inputs.isEmpty else { return Embeddings(vectors: [], usage: .zero) }
        var body: [String: JSONValue] = [
            "model": .string(name), "input": .array(inputs.map(JSONValue.string)), "encoding_format": "float",
        ]
        if let dimensions { body["dimensions"] = .number(Double(dimensions)) }
        let reply = try await transport.post("/embeddings", body: .object(body))
        let json = try await transport.readJSON(reply)
        let status = reply.status
        guard let data = json["data"]?.arrayValue else {
            throw ModelError(.malformedResponse, message: "The embeddings response has no 'data' list.", statusCode: status)
        }
        var vectors = [[Float]?](repeating: nil, count: inputs.count)
        for (position, item) in data.enumerated() {
            let index = item["index"]?.intValue ?? position
            guard vectors.indices.contains(index), let numbers = item["embedding"]?.arrayValue else {
                throw ModelError(.malformedResponse, message: "Embedding \(position) has no vector or a bad index.", statusCode: status)
            }
            vectors[index] = try numbers.map { value throws(ModelError) -> Float in
                guard let number = value.doubleValue else {
                    throw ModelError(.malformedResponse, message: "Embedding \(position) holds a value that is not a number.", statusCode: status)
                }
                return Float(number)
            }
        }
        let complete = vectors.compactMap { $0 }
        guard complete.count == inputs.count else {
            throw ModelError(.malformedResponse, message: "Got \(complete.count) embeddings for \(inputs.count) inputs.", statusCode: status)
        }
        let usage = Usage(inputTokens: json["usage"]?["prompt_tokens"]?.intValue ?? 0)
        return Embeddings(vectors: complete, usage: usage)
    }
}
