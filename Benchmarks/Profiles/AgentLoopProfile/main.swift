import KeelApp
import KeelCore
import KeelRuntime

// Runs the in-process agent run of the AgentLoop benchmark a fixed number of times and exits, so
// that it can be timed as a whole process or profiled (`perf record`) without the benchmark harness.
//
//   swift build -c release --product AgentLoopProfile
//   /usr/bin/time .build/release/AgentLoopProfile 10000

/// The runs, off the main actor: one task on the global executor, as in the benchmark harness.
@concurrent func measure(runs: Int) async {
    let agent = Agent(model: LoopingModel(steps: stepsPerRun), tools: Calculator.tools)
    _ = await agent.run("warm up")
    for _ in 0..<runs {
        let result = await agent.run("go")
        guard result.steps.count == stepsPerRun else { fatalError("a run took \(result.steps.count) steps, not \(stepsPerRun)") }
    }
}

let runs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000
await measure(runs: runs)
print("\(runs) runs")
