import NanoBananaAPI

/// A request reached FAILED (including content blocks). `detail` is the server's error.
public struct InferenceFailed: Error, Sendable, Equatable {
    public let detail: String?
    /// The status body that reported the failure.
    public let statusBody: StatusBody
}

/// `wait` ran out of time; the job may still finish: resume with ``Client/job(requestID:)``.
public struct InferenceTimeout: Error, Sendable, Equatable {
    public let requestID: String
    /// Seconds waited.
    public let elapsed: Double
}

/// An HTTP error from the API: 400, 401, 403, 404, 406, 413, 429, 5xx.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    /// The server's `error` sentence.
    public let detail: String?
    /// Seconds to wait before retrying, from `Retry-After` (429).
    public let retryAfter: Double?

    public var description: String { "HTTP \(status): \(detail ?? "no detail")" }
}

/// The client was set up without what it needs.
public enum ClientConfigurationError: Error, Sendable, Equatable {
    case missingAPIKey
    case invalidBaseURL(String)
}
