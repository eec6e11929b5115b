import KeelApp
import KeelCore
import KeelRuntime

// Issue 19's memory workload without HTTP: N agent runs at once (default 1,000), five calculator
// steps each with the in-process arithmetic model, for a heap profile:
//
//   swift build -c release --product ConcurrentRunsProfile
//   valgrind --tool=massif --massif-out-file=massif.out .build/release/ConcurrentRunsProfile 1000
//   ms_print massif.out | less

@concurrent func measure(runs: Int) async -> Int {
    let agent = Agent(model: ArithmeticModel(), tools: Calculator.tools)
    return await withTaskGroup(of: Int.self) { group in
        for _ in 0..<runs { group.addTask { await agent.run("What is 1 plus 2 plus 3 plus 4 plus 5 plus 6?").steps.count } }
        return await group.reduce(0, +)
    }
}

let runs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000
let steps = await measure(runs: runs)
print("\(runs) runs, \(steps) steps")
