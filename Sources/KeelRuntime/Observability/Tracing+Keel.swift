import Foundation
import KeelCore
import Synchronization
import Tracing

/// Whether model-call spans carry the conversation: off by default, since prompts and replies
/// hold what users typed and what tools returned.
///
/// On, a `chat` span records the request's messages as `gen_ai.input.messages` and the reply as
/// `gen_ai.output.messages` (JSON, in the GenAI conventions' shape). `Observability.start` turns it
/// on when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is `true`.
public enum TraceContent {
    private static let recorded = Atomic(false)

    /// Whether content is recorded here: the task's choice (``recording(_:_:)``), or the process's.
    public static var isRecorded: Bool { override ?? recorded.load(ordering: .relaxed) }

    /// Turns recording on or off for the process.
    public static func record(_ on: Bool) {
        recorded.store(on, ordering: .relaxed)
    }

    @TaskLocal static var override: Bool?

    /// Runs `body` with recording on or off for this task and its children alone.
    public static func recording<T>(_ on: Bool, _ body: () async throws -> T) async rethrows -> T {
        try await $override.withValue(on) { try await body() }
    }

    /// The GenAI conventions' JSON of `messages`: role and parts (text, tool calls, tool results).
    static func json(_ messages: [Message]) -> String {
        JSONValue.array(messages.map { message in
            switch message {
            case .system(let text): ["role": "system", "parts": [["type": "text", "content": .string(text)]]]
            case .user(let text): ["role": "user", "parts": [["type": "text", "content": .string(text)]]]
            case .assistant(let reply): ["role": "assistant", "parts": .array(parts(of: reply))]
            case .tool(let result):
                ["role": "tool", "parts": [["type": "tool_call_response", "id": .string(result.callID), "response": .string(result.content)]]]
            }
        }).serialized()
    }

    static func parts(of reply: AssistantMessage) -> [JSONValue] {
        var parts: [JSONValue] = reply.text.map { [["type": "text", "content": .string($0)]] } ?? []
        for call in reply.toolCalls {
            parts.append(["type": "tool_call", "id": .string(call.id), "name": .string(call.name), "arguments": .string(call.arguments)])
        }
        return parts
    }
}

/// The tracer Keel's spans go to: the one bound with `withTracer(_:_:)` or bootstrapped in
/// `InstrumentationSystem`, or `nil` when there is none (the no-op tracer), so that untraced runs
/// pay nothing for spans.
func activeTracer() -> (any Tracer)? {
    let tracer = InstrumentationSystem.tracer
    return tracer is NoOpTracer ? nil : tracer
}

/// Runs `body` in a span named `name` of `tracer` — a child of `parent`, or of the current span —
/// ending it when `body` ends and recording a thrown error; without a tracer, runs `body` alone.
func traced<T>(
    _ tracer: (any Tracer)?, _ name: @autoclosure () -> String, kind: SpanKind = .internal, parent: InstrumentationContext? = nil,
    _ body: ((any Span)?) async throws -> T
) async throws -> T {
    guard let tracer else { return try await body(nil) }
    let span = tracer.startSpan(name(), context: parent ?? InstrumentationContext.current ?? .topLevel, ofKind: kind)
    defer { span.end() }
    do {
        return try await InstrumentationContext.$current.withValue(span.context) { try await body(span) }
    } catch {
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error, message: (error as? ModelError)?.code.rawValue ?? String(describing: type(of: error))))
        throw error
    }
}

/// The attribute names of Keel's spans: OpenTelemetry's GenAI semantic conventions, and Keel's
/// own under `keel.`.
enum SpanName {
    static let operation = "gen_ai.operation.name"
    static let provider = "gen_ai.provider.name"
    static let requestModel = "gen_ai.request.model"
    static let maxTokens = "gen_ai.request.max_tokens"
    static let temperature = "gen_ai.request.temperature"
    static let responseID = "gen_ai.response.id"
    static let responseModel = "gen_ai.response.model"
    static let finishReasons = "gen_ai.response.finish_reasons"
    static let inputTokens = "gen_ai.usage.input_tokens"
    static let outputTokens = "gen_ai.usage.output_tokens"
    static let toolName = "gen_ai.tool.name"
    static let toolCallID = "gen_ai.tool.call.id"
    static let agentName = "gen_ai.agent.name"
    static let runID = "keel.run.id"
    static let sequence = "keel.step.sequence"
    static let address = "keel.step.address"
    static let stepKind = "keel.step.kind"
    static let attempt = "keel.attempt"
    static let cost = "keel.cost.usd"
    static let replayed = "keel.replayed"
    static let replayedSteps = "keel.replayed_steps"
    static let decision = "keel.policy.decision"
    static let workflow = "keel.workflow"
    static let estimated = "keel.usage.estimated"
    static let cachedInputTokens = "keel.usage.cached_input_tokens"
    static let inputMessages = "gen_ai.input.messages"
    static let outputMessages = "gen_ai.output.messages"
}

extension Span {
    /// The usage of a model call, in the GenAI attributes (and Keel's for what they lack).
    func record(_ usage: Usage) {
        attributes[SpanName.inputTokens] = usage.inputTokens
        attributes[SpanName.outputTokens] = usage.outputTokens
        if usage.cachedInputTokens > 0 { attributes[SpanName.cachedInputTokens] = usage.cachedInputTokens }
        if usage.isEstimated { attributes[SpanName.estimated] = true }
    }
}

/// The W3C trace context of the current span, as text headers (`traceparent`, `tracestate`), to
/// keep with a run so that its next execution continues the same trace.
struct TraceCarrier: Codable, Sendable, Hashable {
    var headers: [String: String]

    static func current(_ tracer: any Tracer) -> TraceCarrier {
        var headers: [String: String] = [:]
        if let context = InstrumentationContext.current { tracer.inject(context, into: &headers, using: HeadersInjector()) }
        return TraceCarrier(headers: headers)
    }

    func context(_ tracer: any Tracer) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        tracer.extract(headers, into: &context, using: HeadersExtractor())
        return context
    }

    struct HeadersInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct HeadersExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}
