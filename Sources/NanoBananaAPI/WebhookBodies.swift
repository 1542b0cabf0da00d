/// `GET /v2/requests/{id}/webhooks` (and the answer of a redelivery): the request's
/// webhook events, each with its attempts.
public struct WebhookDeliveriesBody: Sendable, Equatable, Codable {
    public var requestID: String
    public var events: [WebhookEventBody]

    public init(requestID: String, events: [WebhookEventBody]) {
        self.requestID = requestID
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case events
    }
}

/// One webhook event: its `webhook-id`, where it went and where it stands.
public struct WebhookEventBody: Sendable, Equatable, Codable {
    /// The `webhook-id`, the same for every attempt.
    public var id: String
    public var requestID: String
    /// `request.processing`, `request.completed` or `request.failed`.
    public var type: String
    public var url: String
    /// `PENDING`, `DELIVERED`, `GONE` (the receiver answered 410) or `EXHAUSTED`.
    public var state: String
    public var createdAt: String
    /// When the next attempt is due; `null` unless PENDING.
    public var nextAttemptAt: String?
    public var attempts: [WebhookAttemptBody]

    public init(
        id: String, requestID: String, type: String, url: String, state: String, createdAt: String,
        nextAttemptAt: String?, attempts: [WebhookAttemptBody]
    ) {
        self.id = id
        self.requestID = requestID
        self.type = type
        self.url = url
        self.state = state
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey {
        case id, type, url, state, attempts
        case requestID = "request_id"
        case createdAt = "created_at"
        case nextAttemptAt = "next_attempt_at"
    }

    /// `next_attempt_at` is always present, `null` when there is none.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(type, forKey: .type)
        try container.encode(url, forKey: .url)
        try container.encode(state, forKey: .state)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(nextAttemptAt, forKey: .nextAttemptAt)
        try container.encode(attempts, forKey: .attempts)
    }
}

/// One attempt to deliver an event.
public struct WebhookAttemptBody: Sendable, Equatable, Codable {
    public var number: Int
    public var at: String
    /// The receiver's HTTP status; `null` when it did not answer.
    public var statusCode: Int?
    /// Why there was no answer (a timeout, a refused address); `null` when it answered.
    public var error: String?
    public var latencyMS: Int

    public init(number: Int, at: String, statusCode: Int?, error: String?, latencyMS: Int) {
        self.number = number
        self.at = at
        self.statusCode = statusCode
        self.error = error
        self.latencyMS = latencyMS
    }

    enum CodingKeys: String, CodingKey {
        case number, at, error
        case statusCode = "status_code"
        case latencyMS = "latency_ms"
    }

    /// `status_code` and `error` are always present, `null` when there is none.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(number, forKey: .number)
        try container.encode(at, forKey: .at)
        try container.encode(statusCode, forKey: .statusCode)
        try container.encode(error, forKey: .error)
        try container.encode(latencyMS, forKey: .latencyMS)
    }
}

/// What a webhook delivers: `{"type", "timestamp", "data"}`, `data` being what
/// `GET /v2/requests/{id}` returns for that state.
public struct WebhookMessage: Sendable, Equatable, Codable {
    public var type: String
    public var timestamp: String
    public var data: JSONValue

    public init(type: String, timestamp: String, data: JSONValue) {
        self.type = type
        self.timestamp = timestamp
        self.data = data
    }
}
