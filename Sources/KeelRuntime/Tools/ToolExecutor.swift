import KeelCore
import Logging

/// Runs the tool calls of one model reply: looks each tool up, validates its arguments, runs the
/// calls in parallel up to a cap, and turns every failure into a result the model can read.
///
/// It never throws and never drops a call: the results match the calls one for one, in order.
public struct ToolExecutor: Sendable {
    /// The tools by name.
    public let tools: [String: AnyTool]
    /// How long one call may take. Default: 60 seconds.
    public var timeout: Duration
    /// How many calls run at the same time. Default: 4.
    public var concurrency: Int
    /// The longest result (or error) the model reads, in characters; a longer one is cut and the
    /// model reads where. A tool's output goes into the journal, the transcript and the cache, so
    /// one runaway result must not fill them. Default: 50,000.
    public var maximumResultCharacters: Int = 50_000
    /// The clock that times calls out.
    public var clock: any Clock<Duration>
    public var logger: Logger

    public init(
        tools: [AnyTool], timeout: Duration = .seconds(60), concurrency: Int = 4,
        clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "keel.tools")
    ) {
        var byName: [String: AnyTool] = [:]
        for tool in tools where byName[tool.name] == nil { byName[tool.name] = tool }
        self.tools = byName
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self.logger = logger
    }

    /// Runs the calls, at most ``concurrency`` at a time, and returns one result per call in the
    /// order of the calls.
    public func run(_ calls: [ToolCall], context: @escaping @Sendable (ToolCall) -> ToolContext) async -> [ToolResult] {
        // The bodies never throw: every failure is already a result.
        (try? await concurrentMap(calls, limit: concurrency) { _, call in await run(call, context: context(call)) })
            ?? calls.map { ToolResult(callID: $0.id, name: $0.name, content: ToolCallError(.notRun, "not run.").modelText, isError: true) }
    }

    /// Runs one call and returns its result; failures become error results.
    public func run(_ call: ToolCall, context: ToolContext) async -> ToolResult {
        do {
            let output = try await output(of: call, context: context)
            return ToolResult(callID: call.id, name: call.name, content: Self.cut(output, at: maximumResultCharacters))
        } catch {
            let failure = Self.classify(error)
            logger.debug("tool call failed", metadata: ["tool": "\(call.name)", "code": "\(failure.code)"])
            return ToolResult(callID: call.id, name: call.name, content: Self.cut(failure.modelText, at: maximumResultCharacters), isError: true)
        }
    }

    /// ``run(_:context:)``, except that a tool that runs steps of its own
    /// (``KeelCore/AnyTool/runsSteps``) lets through every error but a ``ToolCallError``: a wait,
    /// a replay mismatch or a failed model call of its steps ends the calling step, to be resumed.
    public func result(of call: ToolCall, context: ToolContext) async throws -> ToolResult {
        guard let tool = tools[call.name], tool.runsSteps else { return await run(call, context: context) }
        do {
            let output = try await output(of: call, context: context)
            return ToolResult(callID: call.id, name: call.name, content: Self.cut(output, at: maximumResultCharacters))
        } catch let error as ToolCallError {
            return ToolResult(callID: call.id, name: call.name, content: Self.cut(error.modelText, at: maximumResultCharacters), isError: true)
        }
    }

    /// Runs one call and returns its output, or throws ``ToolCallError``.
    public func output(of call: ToolCall, context: ToolContext) async throws -> String {
        guard let tool = tools[call.name] else {
            let available = tools.keys.sorted().joined(separator: ", ")
            throw ToolCallError(.unknownTool, "there is no tool named '\(call.name)'. Available tools: \(available.isEmpty ? "none" : available).")
        }
        let arguments = try tool.validatedArguments(call.arguments)
        if tool.runsSteps { return try await tool.call(validatedArguments: arguments, context: context) }
        return try await withTimeout(timeout, clock: clock, onTimeout: ToolCallError(.timedOut, "the tool did not finish within \(timeout.formattedSeconds).")) {
            try await tool.call(validatedArguments: arguments, context: context)
        }
    }

    /// `text`, or its first `limit` characters and a note that says it was cut.
    public static func cut(_ text: String, at limit: Int) -> String {
        guard text.utf8.count > limit else { return text }  // at most one character per byte
        let kept = text.prefix(max(0, limit))
        guard kept.endIndex < text.endIndex else { return text }
        return String(kept) + "\n[Keel cut this result at \(limit) of \(text.count) characters.]"
    }

    /// A thrown error as the model should read it.
    public static func classify(_ error: any Error) -> ToolCallError {
        if let error = error as? ToolCallError { return error }
        return ToolCallError(.failed, String(describing: error))
    }
}

