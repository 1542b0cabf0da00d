import NanoBananaAPI

/// What an engine is asked to make: the validated parameters of one job.
public struct GenerationRequest: Sendable {
    public var requestID: String
    public var model: String
    public var parameters: NanoBanana2Parameters

    public init(requestID: String, model: String, parameters: NanoBanana2Parameters) {
        self.requestID = requestID
        self.model = model
        self.parameters = parameters
    }
}

/// An encoded image and what the engine knows about it.
public struct GeneratedImage: Sendable {
    /// The encoded bytes, in `format`.
    public var bytes: [UInt8]
    public var format: OutputFormat
    public var width: Int
    public var height: Int
    /// The model's short text, when asked for with `TEXT_AND_IMAGE`.
    public var text: String?
    /// Retries and tokens, for engines with a metered upstream.
    public var usage: UpstreamUsage

    public init(
        bytes: [UInt8], format: OutputFormat, width: Int, height: Int, text: String?, usage: UpstreamUsage = .init()
    ) {
        self.bytes = bytes
        self.format = format
        self.width = width
        self.height = height
        self.text = text
        self.usage = usage
    }
}

/// Something that turns parameters into an image: the offline preview renderer, the real
/// model upstream, or a relay to another server.
///
/// ## Cancellation
///
/// Engines must honour cancellation: the worker runs ``generate(_:)`` in a child task and
/// cancels it at the job's deadline, when its lease is lost, and at shutdown past the
/// drain timeout, then waits for it to return. When its task is cancelled, an engine stops
/// promptly (an upstream call, a backoff sleep, a download) and throws `CancellationError`,
/// whatever shape the cancellation took inside it (an HTTP client's own "cancelled"
/// error, say). It never reports cancellation as an ``EngineFailure``: a cancelled job is
/// not the request's fault, and at shutdown it is handed back to the queue, not FAILED.
/// Work already done may still be returned (an image that has arrived is worth keeping).
public protocol ImageEngine: Sendable {
    /// Reported in result bodies as `engine`.
    var name: String { get }

    /// Makes the image. Throws ``EngineFailure`` for failures the client should read about
    /// (a content block, an unreadable reference), `CancellationError` when its task is
    /// cancelled; anything else is an internal error.
    func generate(_ request: GenerationRequest) async throws -> GeneratedImage
}

/// A failure that is the request's fate, not a bug: it becomes the FAILED job's `error`.
public enum EngineFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The content filter refused the prompt or the output.
    case contentBlocked(String)
    /// A reference image could not be used.
    case invalidReference(index: Int, reason: String)
    /// The upstream model refused the request as invalid; its message is passed on.
    case upstreamRejected(String)
    /// The upstream refused this server's credentials: an operator problem.
    case upstreamUnauthorized
    /// The upstream stayed unavailable through every retry.
    case upstreamUnavailable(String)
    /// The upstream answered with something that is not a usable image.
    case upstreamInvalidResponse(String)

    public var description: String {
        switch self {
        case .contentBlocked(let reason):
            "Content blocked: \(reason)"
        case .invalidReference(let index, let reason):
            "Reference image image_urls[\(index)] could not be used: \(reason)"
        case .upstreamRejected(let message):
            "The model rejected the request: \(message)"
        case .upstreamUnauthorized:
            "The server's credentials for the upstream model were refused. This is a server configuration problem; please tell its operator."
        case .upstreamUnavailable(let detail):
            "The upstream model is unavailable: \(detail)"
        case .upstreamInvalidResponse(let detail):
            "The upstream model returned no usable image: \(detail)"
        }
    }
}
