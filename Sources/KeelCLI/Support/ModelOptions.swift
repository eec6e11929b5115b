import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI

/// `--model` and `--base-url`, shared by the commands that call a model.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The model: 'test', 'arithmetic' or 'writer' (offline), or 'openai:NAME' for an OpenAI-compatible server.",
        valueName: "spec"))
    var model: String?

    @Option(name: .customLong("base-url"), help: ArgumentHelp("The server's API root, such as http://127.0.0.1:8080/v1 (default: $OPENAI_BASE_URL, else OpenAI).", valueName: "url"))
    var baseURL: String?

    /// The model the options name, or `offline` when none is named.
    func makeModel(offline: @autoclosure () -> any ChatModel) throws -> any ChatModel {
        guard let spec = model else { return offline() }
        return try Self.model(for: spec, baseURL: baseURL, environment: ProcessInfo.processInfo.environment)
    }

    /// The spec to remember in a durable run (`offline` names the default).
    func spec(offline: String) -> ModelSpec {
        ModelSpec(spec: model ?? offline, baseURL: baseURL)
    }

    static func model(for spec: String, baseURL: String?, environment: [String: String]) throws -> any ChatModel {
        do {
            return try ModelCatalog.standard.model(for: spec, baseURL: baseURL, environment: environment)
        } catch let error as ModelCatalog.SpecError {
            throw CLIError(error.description)
        }
    }
}
