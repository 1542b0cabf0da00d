import HTTPTypes

/// The API's own headers, named once: what clients send and what the routes answer with.
extension HTTPField.Name {
    /// The API key every authenticated request carries.
    static let apiKey = HTTPField.Name("x-api-key")!
    /// The id of the request a v1 image answers; on the way in, the client's id for its
    /// request, which the logs carry (``RequestCorrelation``).
    static let requestID = HTTPField.Name("x-request-id")!
    /// Seconds the engine spent on the image.
    static let generationTime = HTTPField.Name("x-generation-time")!
    /// The seed the image was made with.
    static let seedValue = HTTPField.Name("x-seed-value")!
    /// Credits the request cost.
    static let cost = HTTPField.Name("x-cost")!
    /// A metered key's balance after the request (or when it could not pay).
    static let remainingCredits = HTTPField.Name("x-remaining-credits")!
    /// The value of the limit a 429 hit.
    static let rateLimitLimit = HTTPField.Name("x-ratelimit-limit")!
    /// Requests left under that limit (always 0 on a 429).
    static let rateLimitRemaining = HTTPField.Name("x-ratelimit-remaining")!
    /// Seconds until a retry may succeed.
    static let rateLimitReset = HTTPField.Name("x-ratelimit-reset")!
    /// Which limit was hit: requests per minute, requests in flight, or queue length.
    static let rateLimitScope = HTTPField.Name("x-ratelimit-scope")!
    /// RFC 7240 preferences: a v2 submit's `wait=N` (``WaitTime``).
    static let prefer = HTTPField.Name("prefer")!
    /// The preferences a response honoured (`wait=N`).
    static let preferenceApplied = HTTPField.Name("preference-applied")!
    /// The event a reconnecting event stream saw last.
    static let lastEventID = HTTPField.Name("last-event-id")!
    /// `no` on an event stream: tells nginx not to buffer it.
    static let accelBuffering = HTTPField.Name("x-accel-buffering")!
    /// A submit's key for retrying it safely (``IdempotencyKey``).
    static let idempotencyKey = HTTPField.Name("idempotency-key")!
    /// `true` on the answer to a submit that replayed its idempotency key's earlier request.
    static let idempotentReplayed = HTTPField.Name("idempotent-replayed")!
}
