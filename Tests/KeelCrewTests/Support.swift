import Foundation
import KeelCore
import KeelCrew
import KeelRuntime
import KeelSQLite
import KeelTestSupport

/// A durable workflow that kicks a crew off with its input.
struct CrewFlow: Workflow {
    let crew: Crew
    let name = "test-crew"
    func run(_ input: [String: String], context: RunContext) async throws -> CrewResult {
        try await crew.kickoff(inputs: input, in: context)
    }
}

/// A fresh SQLite store, and a runtime for `crew` on it.
func crewRuntime(_ crew: Crew) throws -> (SQLiteRunStore, DurableRuntime) {
    let path = try TemporaryFolder.make("keel-crew").appendingPathComponent("keel.db").path
    let store = try SQLiteRunStore(path: path)
    return (store, DurableRuntime(store: store, workflows: [AnyWorkflow(CrewFlow(crew: crew))]))
}

/// The text of every user message of a request.
func userText(_ request: ChatRequest) -> String {
    request.messages.compactMap { if case .user(let text) = $0 { text } else { nil } }.joined(separator: "\n")
}

func member(_ key: String, _ model: any ChatModel, delegation: Bool = false) -> CrewAgent {
    CrewAgent(key: key, role: "\(key.capitalized) of {topic}", goal: "Do the \(key) work on {topic}", backstory: "You are a careful \(key).", model: model, allowDelegation: delegation)
}
