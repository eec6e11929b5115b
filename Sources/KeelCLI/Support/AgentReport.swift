import Foundation
import KeelCore
import KeelRuntime

/// An agent run as JSON (`--json`) and as lines for people.
enum AgentReport {
    static func json(_ result: AgentRunResult, model: String) -> JSONValue {
        [
            "model": .string(model),
            "outcome": outcome(result.outcome),
            "steps": .array(result.steps.map(step)),
            "usage": usage(result.usage),
            "transcript": (try? JSONValue(encoding: result.transcript)) ?? .null,
        ]
    }

    static func outcome(_ outcome: AgentOutcome) -> JSONValue {
        switch outcome {
        case .completed(let answer): ["kind": "completed", "answer": .string(answer)]
        case .stepLimitReached(let steps): ["kind": "step_limit", "steps": .number(Double(steps))]
        case .noProgress(let tool, let arguments, let failures):
            ["kind": "no_progress", "tool": .string(tool), "arguments": .string(arguments), "failures": .number(Double(failures))]
        case .modelFailed(let failure):
            ["kind": "model_failed", "code": .string(failure.code.rawValue), "message": .string(failure.message),
             "status": failure.statusCode.map { .number(Double($0)) } ?? .null]
        case .budgetExceeded(let refusal):
            ["kind": "budget_exceeded", "scope": .string(refusal.scope.key), "message": .string(refusal.description),
             "spent": (try? JSONValue(encoding: refusal.spent)) ?? .null, "worst_case": (try? JSONValue(encoding: refusal.worstCase)) ?? .null]
        case .deadlineReached(let answer):
            ["kind": "deadline_reached", "answer": answer.map(JSONValue.string) ?? .null]
        case .invalidOutput(let invalid):
            ["kind": "invalid_output", "raw": .string(invalid.raw), "problem": .string(invalid.problem), "repairs": .number(Double(invalid.repairs))]
        case .guardrailTripped(let trip):
            ["kind": "guardrail_tripped", "guardrail": .string(trip.guardrail), "stage": .string(trip.stage.rawValue), "reason": .string(trip.reason)]
        case .handedOff(let agent):
            ["kind": "handed_off", "agent": .string(agent)]
        }
    }

    static func step(_ step: AgentStep) -> JSONValue {
        var object: [String: JSONValue] = [
            "number": .number(Double(step.number)),
            "text": step.response.message.text.map(JSONValue.string) ?? .null,
            "tool_calls": .array(step.response.message.toolCalls.map { call in
                ["id": .string(call.id), "name": .string(call.name), "arguments": .string(call.arguments)]
            }),
            "tool_results": .array(step.toolResults.map { result in
                ["call_id": .string(result.callID), "name": .string(result.name), "content": .string(result.content), "is_error": .bool(result.isError)]
            }),
            "usage": usage(step.response.usage),
            "finish_reason": .string(step.response.finishReason.description),
        ]
        if let latency = step.modelLatency {
            object["latency_ms"] = .number((latency.timeInterval * 1000).rounded())
        }
        return .object(object)
    }

    static func usage(_ usage: Usage) -> JSONValue {
        [
            "input_tokens": .number(Double(usage.inputTokens)), "cached_input_tokens": .number(Double(usage.cachedInputTokens)),
            "output_tokens": .number(Double(usage.outputTokens)), "reasoning_tokens": .number(Double(usage.reasoningTokens)),
            "total_tokens": .number(Double(usage.totalTokens)), "cache_write_input_tokens": .number(Double(usage.cacheWriteInputTokens)),
            "estimated": .bool(usage.isEstimated),
        ]
    }

    /// The warning for a run some of whose calls carried no usage, or `nil`.
    static func estimateWarning(_ result: AgentRunResult) -> String? {
        let estimated = result.steps.filter(\.response.usage.isEstimated).count
        guard estimated > 0 else { return nil }
        return "warning: \(estimated) of \(result.steps.count) model call\(result.steps.count == 1 ? "" : "s") carried no usage; their tokens are estimated with the model's tokenizer"
    }

    /// One line per tool call of a step, such as `step 1  multiply {"a":12,"b":7} → 84`.
    static func lines(for step: AgentStep) -> [String] {
        zip(step.response.message.toolCalls, step.toolResults).map { call, result in
            "step \(step.number)  \(call.name) \(call.arguments) → \(result.content)"
        }
    }

    static func usageLine(_ result: AgentRunResult) -> String {
        "\(result.steps.count) model call\(result.steps.count == 1 ? "" : "s") · \(result.usage.inputTokens) input tokens · \(result.usage.outputTokens) output tokens"
            + (result.usage.isEstimated ? " (estimated in part)" : "")
    }

    /// Why a run that did not complete stopped, in one line.
    static func stopReason(_ outcome: AgentOutcome) -> String? {
        switch outcome {
        case .completed: nil
        case .stepLimitReached(let steps): "the agent stopped at its step limit after \(steps) model calls"
        case .noProgress(let tool, _, let failures): "the agent made no progress: '\(tool)' failed \(failures) times in a row with the same arguments"
        case .modelFailed(let failure): "the model call failed: \(failure)"
        case .budgetExceeded(let refusal): "the agent stopped before breaking its budget: \(refusal)"
        case .deadlineReached: nil
        case .invalidOutput(let invalid): "the agent's answer is not valid output: \(invalid)"
        case .guardrailTripped(let trip): "the agent was stopped: \(trip)"
        case .handedOff(let agent): "the agent handed the conversation to \(agent), who could not take it"
        }
    }
}
