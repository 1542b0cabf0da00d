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
