import KeelCore

/// Durable work: ordinary `async` Swift that does everything costly or non-deterministic inside
/// steps of its ``RunContext``, so that a run survives crashes and resumes where it stopped.
///
/// ```swift
/// struct Greeting: Workflow {
///     let name = "greeting"
///     func run(_ input: String, context: RunContext) async throws -> String {
///         let text = try await context.step("write") { try await writer.generate(input) }
///         try await context.sleep(for: .seconds(2))
///         return text
///     }
/// }
/// ```
///
/// The body runs again from the top on every resume; steps already journaled return their result
/// without running. Keep everything outside steps deterministic: the same input and journal must
/// lead to the same steps in the same order.
public protocol Workflow: Sendable {
    associatedtype Input: Codable & Sendable
    associatedtype Output: Codable & Sendable

    /// The name stored with each run, which says how to resume it. Keep it stable.
    var name: String { get }

    func run(_ input: Input, context: RunContext) async throws -> Output
}

/// A workflow with its input and output as JSON, for a runtime that holds several.
public struct AnyWorkflow: Sendable {
    public let name: String
    let body: @Sendable (JSONValue, RunContext) async throws -> JSONValue

    public init<W: Workflow>(_ workflow: W) {
        name = workflow.name
        body = { input, context in
            let decoded: W.Input
            do {
                decoded = try input.decode(as: W.Input.self)
            } catch {
                throw WorkflowError(.invalidInput, "the input of run '\(context.runID)' does not decode as \(W.Input.self): \(error)")
            }
            return try JSONValue(encoding: try await workflow.run(decoded, context: context))
        }
    }
}

/// A run that cannot go on: what happened and what to do.
public struct WorkflowError: Error, Sendable, CustomStringConvertible {
    /// The class of failure. Safe as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The workflow asked for a different step than the journal holds at that position.
        public static let nonDeterminism = Code("non_determinism")
        /// A side-effecting step was started but not finished before a crash, and its policy is to fail.
        public static let inDoubt = Code("in_doubt")
        /// The run's input does not decode as the workflow's input.
        public static let invalidInput = Code("invalid_input")
        /// No workflow of that name is registered with this runtime.
        public static let unknownWorkflow = Code("unknown_workflow")
        /// Another process holds the run.
        public static let busy = Code("busy")
        /// Nobody decided an approval in time, and its policy is to fail.
        public static let approvalTimedOut = Code("approval_timed_out")
        /// The run is completed, failed or cancelled.
        public static let finished = Code("finished")
        /// A run kept in memory was asked to wait for something that cannot come to it (a signal
        /// from another process).
        public static let cannotWait = Code("cannot_wait")
        /// A scope was opened with a name that is empty, holds `/`, or was opened before in the
        /// same context.
        public static let invalidScope = Code("invalid_scope")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// The journal position involved, if any.
    public var sequence: Int?
    /// The scope of that position (``RunContext/scope``), when it is not the run's own.
    public var scope: String?

    public init(_ code: Code, _ message: String, sequence: Int? = nil, scope: String? = nil) {
        self.code = code
        self.message = message
        self.sequence = sequence
        self.scope = scope.flatMap { $0.isEmpty ? nil : $0 }
    }

    public var description: String { message }
}

/// What a side-effecting step found started but unfinished on resume should do.
public enum InDoubtPolicy: String, Sendable, Hashable, Codable {
    /// Run it again with the same idempotency key (the systems it calls deduplicate).
    case retry
    /// Fail the run, saying which step is in doubt, for a person to check.
    case fail
    /// Ask a person ("did this happen?") through an approval: approving runs it again with the same
    /// key, denying records it as done.
    case askHuman = "ask_human"
}

/// Thrown through a workflow when the run must wait (a timer or a signal); the runtime puts the run
/// to wait and the process may exit. Workflow code must let it pass.
public struct RunSuspension: Error, Sendable {
    public var wakeAt: Date?
    public var waitingFor: [String]
}

import Foundation
