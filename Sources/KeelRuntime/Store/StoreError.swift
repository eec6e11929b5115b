/// A store operation that failed: what happened and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The class of failure. Safe as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// No run with that id.
        public static let notFound = Code("not_found")
        /// The run id is taken by a run of another workflow.
        public static let conflict = Code("conflict")
        /// The lease was taken over (or the run cancelled); this writer must stop.
        public static let leaseLost = Code("lease_lost")
        /// A completed step was journaled twice at one position.
        public static let duplicateStep = Code("duplicate_step")
        /// The request does not fit the run's state (such as forking past the journal's end).
        public static let invalidState = Code("invalid_state")
        /// The store file or a row in it is not what Keel wrote.
        public static let corrupt = Code("corrupt")
        /// The store stayed locked by another process past the timeout.
        public static let locked = Code("locked")
        /// The store was written by a newer Keel.
        public static let newerSchema = Code("newer_schema")
        /// The store cannot be reached or written.
        public static let unavailable = Code("unavailable")
        /// The store turned the connection away for good: wrong credentials, or no such database.
        public static let refused = Code("refused")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
