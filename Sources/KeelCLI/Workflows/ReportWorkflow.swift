import Foundation
import KeelApp
import KeelCore
import KeelRuntime

/// `keel demo`: the sequential report pipeline as a durable workflow. Everything needed to resume
/// it is in its input.
struct ReportWorkflow: Workflow {
    struct Input: Codable, Sendable, Hashable {
        var topic: String
        var sections: Int
        var contextTokens: Int
        var paceMilliseconds: Int
        var model: ModelSpec
        var controls: ControlSettings?
    }

    let name = "report"
    var ledger: any SpendLedger = InMemorySpendLedger()
    var progress: (@Sendable (PipelineProgress) -> Void)?
    /// What the run's input may make this process do.
    var authority = RunAuthority()

    func run(_ input: Input, context: RunContext) async throws -> PipelineReport {
        try authority.checkModel(input.model, usesMCP: false)
        let settings = input.controls ?? ControlSettings()
        var pipeline = SequentialPipeline(
            model: settings.pace(try input.model.makeModel(), spec: input.model), kinds: SectionKind.reportKinds,
            sections: PipelineSection.report(sections: input.sections, topic: input.topic), contextTokens: input.contextTokens,
            pace: .milliseconds(input.paceMilliseconds), tokenizer: try BPETokenizer.cl100kBase())
        let spend = settings.spendControls(ledger: ledger, alerts: authority.alertHook(for: settings))
        if spend.isLimited { pipeline.spend = spend }
        pipeline.retry = settings.retry
        pipeline.modelTimeout = settings.modelTimeout
        return try await pipeline.run(in: context, progress: progress)
    }

    static func title(_ input: Input) -> String {
        "Report: \(input.topic)"
    }
}
