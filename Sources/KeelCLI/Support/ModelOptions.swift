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
        let (provider, name) = spec.split(separator: ":", maxSplits: 1).map(String.init).splitPair
        switch provider {
        case "test": return TestModel()
        case "arithmetic": return ArithmeticModel()
        case "writer": return ReportWriterModel()
        case "openai":
            guard let name, !name.isEmpty else { throw CLIError("--model openai needs a model name, as in openai:gpt-4o-mini") }
            var configuration = OpenAIConfiguration.fromEnvironment(environment)
            if let baseURL { configuration.baseURL = baseURL }
            guard let url = URL(string: configuration.baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw CLIError("--base-url must be an http or https URL, got '\(configuration.baseURL)'")
            }
            return OpenAIChatModel(name: name, configuration: configuration)
        default:
            throw CLIError("unknown model '\(spec)': use test, arithmetic, writer or openai:NAME")
        }
    }
}

extension Array where Element == String {
    fileprivate var splitPair: (String, String?) {
        (first ?? "", count > 1 ? self[1] : nil)
    }
}
