import KeelCore

/// Where a tool call runs in its run: the calling scope and the call's position in it.
///
/// A tool that runs durable steps of its own — an agent used as a tool, a crew's delegation —
/// reads ``current`` while it runs and opens its steps in ``scope(agent:)``, so that they are
/// journaled in the caller's run (and counted against its budget) and replay when the run
/// resumes before the call's own result was journaled.
public struct ToolCallSite: Sendable {
    /// The scope the call belongs to.
    public let context: RunContext
    /// The call's position in ``context``.
    public let position: Int

    /// The call being run, while a runtime runs a tool.
    @TaskLocal public static var current: ToolCallSite?

    public init(context: RunContext, position: Int) {
        self.context = context
        self.position = position
    }

    /// The call's own scope, `call-<position>`, or `call-<position>@<agent>` for work done by a
    /// named agent, which ``UsageByAgent`` attributes to it. Open it once per call.
    public func scope(agent: String? = nil) throws -> RunContext {
        try context.scope(UsageByAgent.scopeName("call-\(position)", agent: agent))
    }
}
