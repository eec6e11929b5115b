import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

struct ReportWorkflow: Workflow {
    struct Input: Codable, Sendable { var sections: Int; var contextTokens: Int; var paceMilliseconds: Int }
    let name = "report"
    let model: any ChatModel
    /// Off, so that a scripted failure fails the run (and the test resumes it).
    var retry = RetryPolicy.none
    func run(_ input: Input, context: RunContext) async throws -> PipelineReport {
        var pipeline = SequentialPipeline(
            model: model, kinds: SectionKind.reportKinds, sections: PipelineSection.report(sections: input.sections, topic: "churn"),
            contextTokens: input.contextTokens, pace: .milliseconds(input.paceMilliseconds), tokenizer: try .cl100kBase())
        pipeline.retry = retry
        return try await pipeline.run(in: context)
    }
}

/// A model that fails once, at the given call.
final class FailingOnce: ChatModel, Sendable {
    let provider = "test"
    let name = "writer"
    let inner = ReportWriterModel()
    let failAt: Int
    let calls = Locked(0)
    let requests = Locked<[ChatRequest]>([])
    init(failAt: Int) { self.failAt = failAt }
    func respond(to request: ChatRequest) async throws -> ChatResponse {
        let call = calls.withLock { $0 += 1; return $0 }
        requests.withLock { $0.append(request) }
        if call == failAt { throw ModelError(.timeout, message: "no answer in time") }
        return try await inner.respond(to: request)
    }
}

@Suite(.timeLimit(.minutes(5))) struct PipelineTests {
    @Test func sectionsAreRoutedByKindAndSeeOnlyTheLastTokens() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let model = FailingOnce(failAt: 0)
        let input = ReportWorkflow.Input(sections: 12, contextTokens: 150, paceMilliseconds: 0)
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(ReportWorkflow(model: model))])
            .start(ReportWorkflow(model: model), input: input, runID: "rep")
        #expect(record.status == .completed)
        let requests = model.requests.withLock { $0 }
        #expect(requests.count == 12)
        let kinds = Dictionary(uniqueKeysWithValues: SectionKind.reportKinds.map { ($0.name, $0) })
        #expect(requests.first?.messages.first == .system(kinds["introduction"]?.systemPrompt ?? ""))
        #expect(requests[5].messages.first == .system(kinds["analysis"]?.systemPrompt ?? ""))
        #expect(requests[10].messages.first == .system(kinds["summary"]?.systemPrompt ?? ""))
        #expect(requests[11].messages.first == .system(kinds["appendix"]?.systemPrompt ?? ""))
        #expect(requests[11].maxOutputTokens == 400)
        #expect(requests[5].maxOutputTokens == 800)
        let tokenizer = try BPETokenizer.cl100kBase()
        for request in requests.dropFirst() {
            let user = request.messages.last?.text ?? ""
            let window = user.components(separatedBy: "The report so far ends with:\n").last ?? ""
            #expect(tokenizer.count(window) <= 150)
            #expect(tokenizer.count(window) >= 100)
        }
        let report = try #require(try record.output?.decode(as: PipelineReport.self))
        #expect(report.sections.map(\.number) == Array(1...12))
        #expect(report.markdown(title: "Churn").hasPrefix("# Churn\n\n## 1. Introduction to churn\n\n"))
    }

    @Test func aFailedSectionIsRetriedAloneOnResume() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let model = FailingOnce(failAt: 7)
        let workflow = ReportWorkflow(model: model)
        let keel = DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)])
        let input = ReportWorkflow.Input(sections: 10, contextTokens: 2_000, paceMilliseconds: 1)
        let failed = try await keel.start(workflow, input: input, runID: "r")
        #expect(failed.status == .failed)
        #expect(failed.failure?.code == "timeout")
        _ = try await store.reopen(runID: "r")
        let done = try await keel.run("r")
        #expect(done.status == .completed)
        #expect(model.calls.withLock { $0 } == 11)  // ten sections and the one retry
        let sections = try await store.journal(runID: "r").filter { $0.name.hasPrefix("section-") }
        #expect(sections.map(\.name) == (1...10).map { "section-\($0)" })

        // The same report, uninterrupted, is identical.
        let clean = try await keel.start(ReportWorkflow(model: FailingOnce(failAt: 0)), input: input, runID: "clean")
        #expect(try clean.output?.decode(as: PipelineReport.self).markdown(title: "x") == (try done.output?.decode(as: PipelineReport.self).markdown(title: "x")))
    }
}
