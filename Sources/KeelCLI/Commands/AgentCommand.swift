import ArgumentParser
import Foundation
import KeelCore
import KeelRuntime
import KeelTesting

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run one agent on a prompt.",
        discussion: "Offline by default; --model openai:NAME uses an OpenAI-compatible server (OPENAI_API_KEY, OPENAI_BASE_URL or --base-url)."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("Toolsets to give the agent, comma-separated: calculator.", valueName: "names"))
    var tools: String?

    @Option(name: .customLong("max-steps"), help: "The most model calls the run may make.")
    var maxSteps = 20

    @Option(name: .customLong("max-output-tokens"), help: "The most output tokens per model call.")
    var maxOutputTokens = 1_500

    @Option(help: "System instructions for the agent.")
    var instructions: String?

    @Flag(help: "Stream the reply as it is written.")
    var stream = false

    @Flag(help: "Print the outcome, every step, the usage and the transcript as JSON.")
    var json = false

    @Argument(help: "What to ask the agent.")
    var prompt: String

    func validate() throws {
        guard maxSteps >= 1 else { throw ValidationError("--max-steps must be at least 1") }
        guard maxOutputTokens >= 1 else { throw ValidationError("--max-output-tokens must be at least 1") }
    }

    func run() async throws {
        let toolList = try Toolsets.tools(named: tools)
        let model = try modelOptions.makeModel(offline: toolList.isEmpty ? TestModel() : ArithmeticModel())
        var configuration = AgentConfiguration()
        configuration.maxSteps = maxSteps
        configuration.maxOutputTokens = maxOutputTokens
        configuration.streaming = stream
        let agent = Agent(model: model, instructions: instructions, tools: toolList, configuration: configuration)
        let printStream = stream && !json
        let result = await agent.run(prompt) { event in
            if printStream, case .textDelta(let text) = event { Console.write(text) }
        }
        if json {
            Console.line(AgentReport.json(result, model: model.identifier).prettySerialized())
        } else if let answer = result.answer {
            Console.line(printStream ? "" : answer)
        }
        if let reason = AgentReport.stopReason(result.outcome) {
            if case .modelFailed = result.outcome { throw CLIError(reason, exitCode: 1) }
            throw CLIError(reason, exitCode: 2)
        }
    }
}
