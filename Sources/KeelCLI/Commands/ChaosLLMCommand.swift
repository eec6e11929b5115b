import ArgumentParser
import Foundation
import KeelCore
import KeelTesting

struct ChaosLLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos-llm",
        abstract: "Serve an OpenAI-compatible test LLM on 127.0.0.1.",
        discussion: "Answers Chat Completions (plain and streamed) with an offline model, for trying agents without a provider."
    )

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8089

    @Option(help: ArgumentHelp("The offline model that answers: arithmetic, writer or test.", valueName: "name"))
    var model = "arithmetic"

    func run() async throws {
        let answering: any ChatModel
        switch model {
        case "arithmetic": answering = ArithmeticModel()
        case "test": answering = TestModel()
        case "writer": answering = ReportWriterModel()
        default: throw CLIError("unknown model '\(model)': use arithmetic, writer or test")
        }
        try await OpenAICompatibleServer.run(port: port, responder: .model(answering)) { server in
            Console.line("keel chaos-llm listening on \(server.baseURL)")
        }
    }
}
