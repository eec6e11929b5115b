import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI

/// `--model` and `--base-url`, shared by the commands that call a model.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The model: 'test', 'arithmetic', 'writer', 'editor' or 'crew' (offline), 'openai:NAME' for an OpenAI-compatible server, or 'anthropic:NAME' for Claude.",
        valueName: "spec"))
    var model: String?

    @Option(
        name: .customLong("fallback"),
        help: ArgumentHelp(
            "With --model: a model that answers when the one before it is overloaded, rate limited, failing or out of context, at its provider's base URL from the environment. Repeatable.",
            valueName: "spec"))
    var fallbacks: [String] = []

    @Option(name: .customLong("base-url"), help: ArgumentHelp("The server's API root, such as http://127.0.0.1:8080/v1 (default: $OPENAI_BASE_URL, else OpenAI).", valueName: "url"))
    var baseURL: String?

    /// The model the options name, or `offline` when none is named.
    func makeModel(offline: @autoclosure () -> any ChatModel) throws -> any ChatModel {
        guard model != nil else { return offline() }
        return try Self.model(spec(offline: ""))
    }

    /// The spec to remember in a durable run (`offline` names the default, which has no
    /// fallbacks), with its fallbacks.
    func spec(offline: String) -> ModelSpec {
        guard let model else { return ModelSpec(spec: offline) }
        return ModelSpec(spec: model, baseURL: baseURL, fallbacks: fallbacks.map { ModelSpec(spec: $0) })
    }

    static func model(_ spec: ModelSpec) throws -> any ChatModel {
        do {
            return try spec.makeModel()
        } catch let error as ModelCatalog.SpecError {
            throw CLIError(error.description)
        }
    }
}
