import Foundation
import Hummingbird
import KeelApp
import KeelCore
import KeelRuntime
import NIOCore

/// `POST /v1/chat/completions`: a configured Keel agent answering in OpenAI's Chat Completions
/// format, so any OpenAI client can use a governed, budgeted agent as if it were a model.
///
/// The request's `model` names a served agent (``KeelServer/Configuration/agents``). The
/// conversation becomes the agent's prompt — system messages join its instructions — and the
/// agent runs as a durable run of the key's tenant, with its own tools, controls, approvals and
/// audit on the server: `GET /v1/runs/{id}` shows it, the id being the completion's. Tools a
/// client sends are refused: the agent's tools are the server's.
struct ChatRoutes: Sendable {
    let store: any ServedStore
    let agents: [String: AgentWorkflow.Input]
    let runtime: DurableRuntime?

    struct Request: Decodable, Sendable {
        var model: String
        var messages: [JSONValue]
        var stream: Bool?
        var streamOptions: StreamOptions?
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var tools: JSONValue?

        struct StreamOptions: Decodable, Sendable {
            var includeUsage: Bool?
            enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        }

        enum CodingKeys: String, CodingKey {
            case model, messages, stream, tools, streamOptions = "stream_options", maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens"
        }
    }

    func add(to group: RouterGroup<ServerContext>) {
        group.post("chat/completions", use: complete)
    }

    @Sendable func complete(_ request: Hummingbird.Request, context: ServerContext) async throws -> Response {
        let caller = try context.caller(atLeast: .operator)
        let body = try await request.decode(as: Request.self, context: context)
        guard let runtime else { throw APIError(.serviceUnavailable, "no_agents", "this server serves no agents as models") }
        guard var input = agents[body.model] else { throw APIError(.notFound, "model_not_found", "no agent named '\(body.model.prefix(64))' is served") }
        if let tools = body.tools, tools != .null, tools.arrayValue?.isEmpty != true {
            throw APIError(.badRequest, "tools_not_supported", "the agent's tools are the server's; send no tools")
        }
        let (instructions, prompt) = try Self.prompt(from: body.messages)
        if let instructions { input.instructions = [input.instructions, instructions].compactMap { $0 }.joined(separator: "\n\n") }
        input.prompt = prompt
        if let limit = body.maxCompletionTokens ?? body.maxTokens {
            guard limit >= 1 else { throw APIError(.badRequest, "invalid_max_tokens", "max_tokens must be at least 1") }
            input.maxOutputTokens = min(input.maxOutputTokens, limit)
        }
        var controls = input.controls ?? ControlSettings()
        controls.tenant = caller.tenant
        input.controls = controls

        let id = KeelServer.newRunID("chatcmpl-")
        _ = try await KeelServer.storing { try await store.createRun(NewRun(id: id, workflow: "agent", input: try JSONValue(encoding: input), tenant: caller.tenant)) }
        let record = try await KeelServer.storing { try await runtime.run(id) }
        let (answer, finish, usage) = try await Self.answer(of: record, store: store)
        let created = Int(record.createdAt.timeIntervalSince1970)
        guard body.stream == true else {
            let completion: JSONValue = [
                "id": .string(id), "object": "chat.completion", "created": .number(Double(created)), "model": .string(body.model),
                "choices": [["index": 0, "message": ["role": "assistant", "content": .string(answer)], "finish_reason": .string(finish)]],
                "usage": Self.usage(usage),
            ]
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: completion.serialized())))
        }
        // The run has finished: its answer goes out in pieces, as a model's would.
        func chunk(_ delta: JSONValue, finish: String?) -> String {
            let value: JSONValue = [
                "id": .string(id), "object": "chat.completion.chunk", "created": .number(Double(created)), "model": .string(body.model),
                "choices": [["index": 0, "delta": delta, "finish_reason": finish.map { .string($0) } ?? .null]],
            ]
            return "data: \(value.serialized())\n\n"
        }
        var text = chunk(["role": "assistant", "content": ""], finish: nil)
        for piece in Self.pieces(answer) { text += chunk(["content": .string(piece)], finish: nil) }
        text += chunk([:], finish: finish)
        if body.streamOptions?.includeUsage == true {
            let value: JSONValue = [
                "id": .string(id), "object": "chat.completion.chunk", "created": .number(Double(created)), "model": .string(body.model),
                "choices": [], "usage": Self.usage(usage),
            ]
            text += "data: \(value.serialized())\n\n"
        }
        text += "data: [DONE]\n\n"
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The instructions (from system and developer messages) and the prompt (the conversation,
    /// ending with the user's last message).
    static func prompt(from messages: [JSONValue]) throws -> (instructions: String?, prompt: String) {
        var instructions: [String] = []
        var turns: [(role: String, text: String)] = []
        for message in messages {
            guard let role = message["role"]?.stringValue else { throw APIError(.badRequest, "invalid_messages", "every message needs a role") }
            let text = try Self.text(of: message["content"] ?? .null)
            switch role {
            case "system", "developer": instructions.append(text)
            case "user", "assistant": turns.append((role, text))
            case "tool": turns.append(("tool", text))
            default: throw APIError(.badRequest, "invalid_messages", "unknown role '\(role.prefix(32))'")
            }
        }
        guard let last = turns.last, last.role == "user" else { throw APIError(.badRequest, "invalid_messages", "the last message must be the user's") }
        let before = turns.dropLast().map { "\($0.role == "user" ? "User" : $0.role == "assistant" ? "Assistant" : "Tool"): \($0.text)" }
        let prompt = before.isEmpty ? last.text : "The conversation so far:\n\(before.joined(separator: "\n"))\n\nThe user now says:\n\(last.text)"
        return (instructions.isEmpty ? nil : instructions.joined(separator: "\n\n"), prompt)
    }

    /// A message's text: a string, or the text parts of an array.
    static func text(of content: JSONValue) throws -> String {
        switch content {
        case .string(let text): return text
        case .null: return ""
        case .array(let parts):
            return try parts.map { part in
                guard part["type"]?.stringValue == "text", let text = part["text"]?.stringValue else {
                    throw APIError(.badRequest, "unsupported_content", "only text content is supported")
                }
                return text
            }.joined()
        default: throw APIError(.badRequest, "invalid_messages", "a message's content must be text")
        }
    }

    /// The agent's answer, finish reason and usage — or the API error saying why there is none.
    static func answer(of record: RunRecord, store: any ServedStore) async throws -> (String, String, Usage) {
        switch record.status {
        case .completed:
            guard let result = try? record.output?.decode(as: AgentRunResult.self) else {
                throw APIError(.internalServerError, "internal", "the agent's run \(record.id) completed without a result")
            }
            switch result.outcome {
            case .completed(let answer): return (answer, "stop", result.usage)
            case .deadlineReached(let answer?): return (answer, "length", result.usage)
            case .budgetExceeded(let exceeded):
                throw APIError(.tooManyRequests, "budget_exceeded", "the agent's budget is spent: \(exceeded); run \(record.id)")
            default:
                throw APIError(.unprocessableContent, "agent_stopped", "the agent stopped without an answer (\(result.outcome.kind)); run \(record.id)")
            }
        case .waiting:
            let pending = try await KeelServer.storing { try await store.approvals(runID: record.id, status: .pending) }
            let which = pending.first.map { "approval \($0.request.id) of \($0.request.tool)" } ?? "a signal or a timer"
            throw APIError(.conflict, "waiting", "the agent waits for \(which); decide it, then follow run \(record.id) at /v1/runs/\(record.id)")
        default:
            let reason = record.failure.map { "\($0.code): \($0.message)" } ?? record.status.rawValue
            throw APIError(.badGateway, "agent_failed", "the agent's run \(record.id) failed (\(reason))")
        }
    }

    static func usage(_ usage: Usage) -> JSONValue {
        [
            "prompt_tokens": .number(Double(usage.inputTokens)), "completion_tokens": .number(Double(usage.outputTokens)),
            "total_tokens": .number(Double(usage.inputTokens + usage.outputTokens)),
        ]
    }

    /// The answer in pieces of a few words.
    static func pieces(_ answer: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in answer {
            current.append(character)
            if character == " ", current.count >= 12 {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
