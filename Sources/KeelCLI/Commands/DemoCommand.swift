import ArgumentParser
import Foundation
import KeelCore
import KeelRuntime
import KeelTesting

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run Keel's demo: an agent that works out a sum with the calculator tools.",
        discussion: "Offline by default (the 'arithmetic' model plans the tool calls); --model openai:NAME asks a real model instead."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "The question to ask.")
    var prompt = "What is 12 times 7 plus 5?"

    func run() async throws {
        let model = try modelOptions.makeModel(offline: ArithmeticModel())
        let agent = Agent(
            model: model, instructions: "Use the calculator tools for every arithmetic step, then state the result.",
            tools: Calculator.tools)
        Console.line("keel demo — an agent with the calculator toolset, model \(model.identifier)")
        Console.line("question  \(prompt)")
        let result = await agent.run(prompt) { event in
            if case .stepFinished(let step) = event {
                for line in AgentReport.lines(for: step) { Console.line(line) }
            }
        }
        if let answer = result.answer { Console.line("answer    \(answer)") }
        Console.line("usage     \(AgentReport.usageLine(result))")
        if let reason = AgentReport.stopReason(result.outcome) { throw CLIError(reason) }
    }
}
