/// What a step commits with its result, in the one transaction that journals it: the spend
/// reservation settled at the step's metered tokens and cost, and the audit records of the
/// decisions and calls it made. A crash leaves either the step and all of its effects, or none.
///
/// ```swift
/// try await context.step(at: sequence, "tool-search", retry: .none, effects: { result in
///     StepEffects(audit: [AuditRecord(…, outcome: result.isError ? .failed : .succeeded)])
/// }) { _ in try await search() }
/// ```
public struct StepEffects: Sendable {
    /// The reservation the store — acting as the run's ``SpendLedger`` — settles at the entry's
    /// metering, so that spending is exact across crashes.
    public var settling: SpendReservation?
    /// Records appended to the audit log, so that it holds each decision and call exactly once.
    public var audit: [AuditRecord]

    public init(settling: SpendReservation? = nil, audit: [AuditRecord] = []) {
        self.settling = settling
        self.audit = audit
    }

    /// Nothing besides the journal entry.
    public static let none = StepEffects()

    /// Whether the step commits only its journal entry.
    public var isEmpty: Bool { settling == nil && audit.isEmpty }
}
