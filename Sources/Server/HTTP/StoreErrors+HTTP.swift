import Hummingbird
import NanoBananaAPI
import Store

// The store's errors that reach API clients, each with its HTTP rendering, here and
// nowhere else: the Store target knows nothing of HTTP. ``JSONErrorMiddleware`` renders
// them like any other `HTTPResponseError`.

extension RateLimited: HTTPResponseError {
    public var status: HTTPResponse.Status { .tooManyRequests }

    /// 429 naming the limit, with `Retry-After` and the `x-ratelimit-*` headers.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let seconds = max(1, Int(retryAfter.rounded(.up)))
        let message =
            switch limit {
            case .queuedBytes:
                "Rate limited: this key's QUEUED requests would hold more than \(value) bytes of parameters (the \(limit.rawValue) limit). Retry in \(seconds) s, once some have started."
            default: "Rate limited: the \(limit.rawValue) limit (\(value)) is reached. Retry in \(seconds) s."
            }
        return try APIError(
            status, message,
            headers: [
                .retryAfter: String(seconds), .rateLimitLimit: String(value), .rateLimitRemaining: "0",
                .rateLimitReset: String(seconds), .rateLimitScope: limit.rawValue,
            ]
        ).response(from: request, context: context)
    }
}

extension InsufficientCredits: HTTPResponseError {
    public var status: HTTPResponse.Status { .notAcceptable }

    /// 406 with the key's balance in `x-remaining-credits`.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try rendered(resolution: nil).response(from: request, context: context)
    }

    /// The same error for a request of `resolution`, which its sentence names.
    func forRequest(of resolution: OutputResolution) -> UnaffordableRequest {
        UnaffordableRequest(shortfall: self, resolution: resolution)
    }

    fileprivate func rendered(resolution: OutputResolution?) -> APIError {
        let request = resolution.map { "this request (\($0.rawValue))" } ?? "this request"
        return APIError(
            status, "Insufficient credits: \(request) costs \(price) credits and the key has \(balance).",
            headers: [.remainingCredits: String(balance)])
    }
}

/// ``InsufficientCredits`` for a request whose output resolution is known: the store's
/// error carries only the price and the balance.
struct UnaffordableRequest: HTTPResponseError {
    let shortfall: InsufficientCredits
    let resolution: OutputResolution

    var status: HTTPResponse.Status { shortfall.status }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try shortfall.rendered(resolution: resolution).response(from: request, context: context)
    }
}

extension IdempotencyKeyReused: HTTPResponseError {
    /// 422: the request is well formed, but its key stands for another one.
    public var status: HTTPResponse.Status { .unprocessableContent }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(status, description).response(from: request, context: context)
    }
}

extension StoreUnavailable: HTTPResponseError {
    public var status: HTTPResponse.Status { .serviceUnavailable }

    /// 503 with `Retry-After: 2`; the reason is logged, never shown to the client.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        context.logger.warning("Store unavailable", metadata: ["error": "\(reason)"])
        return try APIError(
            status, "Service temporarily unavailable: the job store cannot be reached. Retry in a few seconds.",
            headers: [.retryAfter: "2"]
        ).response(from: request, context: context)
    }
}

extension APIKeyError: HTTPResponseError {
    /// Unknown key (or webhook) 404; a name taken, one several old keys share, a top-up the
    /// balance cannot take, or a webhook past the key's maximum, 409 (a well-formed request
    /// the key's state refuses); bad values 400.
    public var status: HTTPResponse.Status {
        switch self {
        case .notFound, .webhookNotFound: .notFound
        case .ambiguous, .nameTaken, .balanceTooLarge, .tooManyWebhooks: .conflict
        case .invalidName, .invalidAmount, .invalidLimit, .invalidWebhookURL: .badRequest
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(status, description).response(from: request, context: context)
    }
}

extension UploadQuotaExceeded: HTTPResponseError {
    public var status: HTTPResponse.Status { .contentTooLarge }

    /// 413 with the quota, what the key holds and what the upload would add.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(
            status,
            "Upload quota exceeded: this key's uploads hold \(used) bytes, and these files would add \(adding), past its quota of \(quota) bytes. Uploads are deleted after the retention period, which frees the quota."
        ).response(from: request, context: context)
    }
}
