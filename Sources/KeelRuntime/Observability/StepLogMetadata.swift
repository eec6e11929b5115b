import Logging

/// The durable step the current task is running, for log lines: a logger bootstrapped with
/// ``provider`` adds `run`, `step` (the step's address, such as `4` or `research/agent-2/1`) and
/// `step_name` to every line logged while a step's body runs — in tools and models too, whatever
/// logger they use.
///
/// ```swift
/// LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: StepLogMetadata.provider)
/// ```
public struct StepLogMetadata: Sendable, Hashable {
    /// The run's id.
    public var runID: String
    /// The step's address in the run.
    public var address: String
    /// The step's name.
    public var name: String

    /// The step running in the current task, if any.
    @TaskLocal public static var current: StepLogMetadata?

    /// Log metadata of ``current``: nothing outside a step.
    public static var provider: Logger.MetadataProvider {
        Logger.MetadataProvider {
            guard let step = current else { return [:] }
            return ["run": "\(step.runID)", "step": "\(step.address)", "step_name": "\(step.name)"]
        }
    }
}
