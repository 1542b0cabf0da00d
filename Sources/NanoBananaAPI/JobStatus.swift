/// The four states of an asynchronous request, spelled as on the wire.
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    /// Accepted, waiting for a worker.
    case queued = "QUEUED"
    /// Running on a worker.
    case processing = "PROCESSING"
    /// Done: the result body is ready.
    case completed = "COMPLETED"
    /// Errored, including content blocks.
    case failed = "FAILED"

    /// Whether no further transition can happen.
    public var isTerminal: Bool { self == .completed || self == .failed }
}
