import Foundation
import KeelCore
import KeelRuntime

/// `keel demo`: the sequential report pipeline as a durable workflow. Everything needed to resume
/// it is in its input.
public struct ReportWorkflow: Workflow {
    /// The report a run asks for.
    public struct Input: Codable, Sendable, Hashable {
        public var topic: String
        public var sections: Int
        /// Tokens of the report so far each section sees.
        public var contextTokens: Int
        /// The pause between sections.
        public var paceMilliseconds: Int
        public var model: ModelSpec
        public var controls: ControlSettings?

        public init(topic: String, sections: Int, contextTokens: Int, paceMilliseconds: Int, model: ModelSpec, controls: ControlSettings? = nil) {
            self.topic = topic
            self.sections = sections
            self.contextTokens = contextTokens
            self.paceMilliseconds = paceMilliseconds
            self.model = model
            self.controls = controls
        }
    }

    public let name = "report"
    /// Where tenant budgets are held (the store, in a durable run).
    public var ledger: any SpendLedger = InMemorySpendLedger()
    /// Told about each section written.
    public var progress: (@Sendable (PipelineProgress) -> Void)?
    /// What the run's input may make this process do.
    public var authority = RunAuthority()
    /// The rate limiters the run's model is paced by (the store's, in a durable run).
    public var rateLimiters = RateLimiters.shared

    public init(progress: (@Sendable (PipelineProgress) -> Void)? = nil) {
        self.progress = progress
    }

    public func run(_ input: Input, context: RunContext) async throws -> PipelineReport {
        try authority.checkModel(input.model, usesMCP: false)
        let settings = input.controls ?? ControlSettings()
        var pipeline = SequentialPipeline(
            model: settings.pace(try input.model.makeModel(), spec: input.model, limiters: rateLimiters), kinds: SectionKind.reportKinds,
            sections: PipelineSection.report(sections: input.sections, topic: input.topic), contextTokens: input.contextTokens,
            pace: .milliseconds(input.paceMilliseconds), tokenizer: try BPETokenizer.cl100kBase())
        let spend = settings.spendControls(ledger: ledger, alerts: authority.alertHook(for: settings))
        if spend.isLimited { pipeline.spend = spend }
        pipeline.retry = settings.retry
        pipeline.modelTimeout = settings.modelTimeout
        return try await pipeline.run(in: context, progress: progress)
    }

    /// The report's title.
    public static func title(_ input: Input) -> String {
        "Report: \(input.topic)"
    }
}
