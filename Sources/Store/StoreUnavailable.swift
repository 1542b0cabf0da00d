/// The store cannot be reached (a database outage, or no connection within the deadline).
/// The API answers 503 for it; workers back off and try again.
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for logs (never shown to API clients verbatim).
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "The job store is unavailable: \(reason)" }
}

/// A store wrote a job state that ``JobState`` would not have: a bug in the store's SQL.
/// The transaction that wrote it is rolled back.
public struct JobStateDisagreement: Error, Sendable, CustomStringConvertible {
    public var jobID: String
    public var expected: JobState
    public var written: JobState

    public var description: String {
        "The store's claim of job \(jobID) disagrees with JobState: expected \(expected), wrote \(written)."
    }
}

/// A stored value that cannot be read as what the store expects (a damaged row). The one
/// request that met it fails (500, logged); the process carries on.
public struct UnreadableValue: Error, Sendable, CustomStringConvertible {
    public var column: String
    /// The value as stored.
    public var stored: String
    /// The type it should have had.
    public var expected: String

    public var description: String { "The stored value \(stored) in column '\(column)' is not a valid \(expected)." }
}
