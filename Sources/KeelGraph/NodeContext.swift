import Foundation
import KeelCore
import KeelRuntime

/// What a node receives besides the state: its durable scope, its fan-out input, and model and
/// tool steps that report progress.
///
/// Each node of each super-step runs in a scope of its own (`s3.review`, `s2.summarise.4` for
/// the fifth branch of a fan-out), so its model calls, tool calls and side effects are durable
/// steps that replay after a crash: a node that ran before the crash does not call its model or
/// its tools again.
public struct NodeContext: Sendable {
    /// The node's name.
    public let node: String
    /// The branch index of a fan-out send, `nil` for a node reached by an edge.
    public let branch: Int?
    /// The super-step, from 1.
    public let superStep: Int
    /// The attempt, from 1 (see ``NodeRetry``).
    public let attempt: Int
    /// The node's durable scope: do everything costly or non-deterministic in its steps.
    public let run: RunContext
    /// The send's input, for a branch of a fan-out.
    public let input: JSONValue?
    let observer: (@Sendable (GraphEvent) -> Void)?

    /// The send's input as `T`. Throws ``GraphError/Code/invalidState`` when the node was not
    /// reached by a send or the input does not decode.
    public func input<T: Decodable>(as type: T.Type = T.self) throws -> T {
        guard let input else { throw GraphError(.invalidState, "the node '\(node)' was not reached by a send and has no input", node: node) }
        do {
            return try input.decode(as: T.self)
        } catch {
            throw GraphError(.invalidState, "the input sent to '\(node)' does not decode as \(T.self): \(error)", node: node)
        }
    }

    /// A model call as a durable step of this node (``KeelRuntime/RunContext/model(_:_:name:controls:clock:textDeltas:)``),
    /// its text streamed to the graph's observer as ``GraphEvent/textDelta(node:branch:text:)``
    /// when there is one.
    public func model(_ model: any ChatModel, _ request: ChatRequest, name: String, controls: AgentControls = AgentControls()) async throws -> ChatResponse {
        guard let observer else { return try await run.model(model, request, name: name, controls: controls) }
        let (node, branch) = (node, branch)
        return try await run.model(model, request, name: name, controls: controls) { observer(.textDelta(node: node, branch: branch, text: $0)) }
    }

    /// Tool calls as durable, governed steps of this node (``KeelRuntime/RunContext/tools(_:from:controls:configuration:transcript:clock:)``):
    /// `configuration` holds the in-doubt policy of side-effecting tools and the parallel cap.
    public func tools(
        _ calls: [ToolCall], from tools: [AnyTool], controls: AgentControls = AgentControls(), configuration: AgentConfiguration = AgentConfiguration()
    ) async throws -> [ToolResult] {
        try await run.tools(calls, from: tools, controls: controls, configuration: configuration)
    }

    /// Stops the node until a person answers: `value` (what they are asked) is journaled, and the
    /// run waits for the signal ``GraphEvent/interrupted(id:node:value:)`` names — an id stable
    /// across resumes and distinct for each branch. The process may exit meanwhile; sent the
    /// signal (`keel runs signal RUN ID --payload '{"value": …}'`), the run resumes and this call
    /// returns the answer. Parallel branches that interrupt wait and resume independently.
    public func interrupt<Answer: Codable & Sendable>(_ value: some Encodable & Sendable, as type: Answer.Type = Answer.self) async throws -> Answer {
        let question = try JSONValue(encoding: value)
        let sequence = run.reserveSequences(1).lowerBound
        _ = try await run.step(at: sequence, "interrupt") { question }
        let id = Self.interruptID(run.address(of: sequence))
        if !run.isReplaying { observer?(.interrupted(id: id, node: node, value: question)) }
        let resume = try await run.waitForSignal(id, as: GraphResume.self)
        do {
            return try (resume.value ?? .null).decode(as: Answer.self)
        } catch {
            throw GraphError(.invalidState, "the answer to \(id) does not decode as \(Answer.self): \(error)", node: node)
        }
    }

    /// The signal that resumes the interrupt journaled at `address`.
    static func interruptID(_ address: String) -> String { "interrupt:" + address }
}
