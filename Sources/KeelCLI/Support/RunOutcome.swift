import Foundation
import KeelApp
import KeelCore
import KeelGraph
import KeelRuntime

/// How a run ended, in the words `keel agent` and `keel demo` use: the agent's answer, the
/// report's path, or why it failed — for every command that runs or shows a stored run.
enum RunOutcome {
    /// Whether a completed report is written to its file (`ID.md`) or only described.
    enum Report {
        case write
        case describe
    }

    /// The lines saying how `record` ended (or where it stands).
    static func lines(_ record: RunRecord, report: Report) -> [String] {
        var lines = ["run \(record.id) is \(record.status)" + (record.failure.map { ": \($0)" } ?? "")]
        switch record.status {
        case .completed:
            lines += completed(record, report: report)
        case .failed:
            lines.append("resume it with: keel runs resume \(record.id)")
        case .waiting:
            if !record.waitingFor.isEmpty { lines.append("it waits for \(record.waitingFor.joined(separator: ", "))") }
            if let wake = record.wakeAt { lines.append("it wakes at \(wake.formatted(.iso8601))") }
        case .pending, .running, .cancelled:
            break
        }
        return lines
    }

    private static func completed(_ record: RunRecord, report: Report) -> [String] {
        switch record.workflow {
        case "agent":
            guard let result = try? record.output?.decode(as: AgentRunResult.self) else { return ["its output is not an agent's result"] }
            let answer = result.answer.map { "answer: \($0)" } ?? AgentReport.stopReason(result.outcome) ?? "no answer"
            return [answer, AgentReport.usageLine(result)]
        case "report":
            guard let pipeline = try? record.output?.decode(as: PipelineReport.self) else { return ["its output is not a report"] }
            let summary = "\(pipeline.sections.count) sections · \(pipeline.usage.inputTokens) input + \(pipeline.usage.outputTokens) output tokens"
            let path = "\(record.id).md"
            guard report == .write else { return ["report of \(summary); write it to \(path) with: keel demo --run-id \(record.id)"] }
            let title = (try? record.input.decode(as: ReportWorkflow.Input.self)).map(ReportWorkflow.title) ?? "Report"
            do {
                try pipeline.markdown(title: title).write(toFile: path, atomically: true, encoding: .utf8)
                return ["report written to \(path) · \(summary)"]
            } catch {
                return ["report of \(summary); it could not be written to \(path): \(error.localizedDescription)"]
            }
        case ResearchReviewWorkflow().name:
            guard let result = try? record.output?.decode(as: GraphResult<ResearchReviewState>.self) else { return ["its output is not a graph's result"] }
            return [
                "\(result.outcome.rawValue) after \(result.superSteps) super-steps · \(result.state.revisions) drafts · quality \(String(format: "%.2f", result.state.quality))"
            ]
        default:
            return record.output.map { ["output: \($0.serialized())"] } ?? []
        }
    }
}
