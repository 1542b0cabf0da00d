/// The JSON bodies of the v2 API, shared by the server and the clients so the two cannot
/// drift apart. Optional fields are left out of the JSON when `nil`.

/// Timings and counters of one request, in seconds.
public struct JobMetrics: Sendable, Equatable, Codable {
    public var inferenceTime: Double?
    public var queueTime: Double?
    public var totalTime: Double?
    /// Claims after the first (a worker died) plus upstream retries.
    public var retryCount: Int?
    /// Tokens the upstream model counted, when it is a metered model.
    public var promptTokens: Int?
    public var outputTokens: Int?
    public var totalTokens: Int?
    /// Credits the request costs (0 once FAILED: failures are refunded).
    public var cost: Int?
    /// The key's balance now; absent for an unmetered key.
    public var remainingCredits: Int?

    public init(
        inferenceTime: Double? = nil, queueTime: Double? = nil, totalTime: Double? = nil, retryCount: Int? = nil,
        promptTokens: Int? = nil, outputTokens: Int? = nil, totalTokens: Int? = nil, cost: Int? = nil,
        remainingCredits: Int? = nil
    ) {
        self.cost = cost
        self.remainingCredits = remainingCredits
        self.inferenceTime = inferenceTime
        self.queueTime = queueTime
        self.totalTime = totalTime
        self.retryCount = retryCount
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens
    }

    enum CodingKeys: String, CodingKey {
        case inferenceTime = "inference_time"
        case queueTime = "queue_time"
        case totalTime = "total_time"
        case retryCount = "retry_count"
        case promptTokens = "prompt_tokens"
        case outputTokens = "output_tokens"
        case totalTokens = "total_tokens"
        case cost
        case remainingCredits = "remaining_credits"
    }
}

/// `POST /v2/{model}` → 200.
public struct SubmitBody: Sendable, Equatable, Codable {
    public var requestID: String
    public var status: JobStatus
    public var statusURL: String
    public var responseURL: String
    public var pollURL: String

    public init(requestID: String, status: JobStatus, statusURL: String, responseURL: String, pollURL: String) {
        self.requestID = requestID
        self.status = status
        self.statusURL = statusURL
        self.responseURL = responseURL
        self.pollURL = pollURL
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case status
        case statusURL = "status_url"
        case responseURL = "response_url"
        case pollURL = "poll_url"
    }
}

/// `GET /v2/requests/{id}/status`, also the body of an unfinished or FAILED result.
public struct StatusBody: Sendable, Equatable, Codable {
    public var requestID: String
    public var status: JobStatus
    /// 1 for the next job a worker will take; present only while QUEUED.
    public var queuePosition: Int?
    /// Why the request FAILED; present only then.
    public var error: String?
    public var metrics: JobMetrics

    public init(
        requestID: String, status: JobStatus, queuePosition: Int? = nil, error: String? = nil, metrics: JobMetrics
    ) {
        self.requestID = requestID
        self.status = status
        self.queuePosition = queuePosition
        self.error = error
        self.metrics = metrics
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case status
        case queuePosition = "queue_position"
        case error
        case metrics
    }
}

/// `GET /v2/requests/{id}` for a COMPLETED request.
public struct ResultBody: Sendable, Equatable, Codable {
    public var requestID: String
    public var status: JobStatus
    /// An absolute, signed, expiring URL of the image.
    public var output: String
    /// The model's short text, when `response_modalities` is `TEXT_AND_IMAGE`.
    public var text: String?
    /// Which engine made the image (`preview`, `gemini`, …).
    public var engine: String
    public var metrics: JobMetrics
    public var width: Int
    public var height: Int
    public var seed: Int64
    public var outputFormat: OutputFormat
    /// ISO 8601 timestamps.
    public var createdAt: String
    public var completedAt: String

    public init(
        requestID: String, output: String, text: String?, engine: String, metrics: JobMetrics, width: Int,
        height: Int, seed: Int64, outputFormat: OutputFormat, createdAt: String, completedAt: String
    ) {
        self.requestID = requestID
        self.status = .completed
        self.output = output
        self.text = text
        self.engine = engine
        self.metrics = metrics
        self.width = width
        self.height = height
        self.seed = seed
        self.outputFormat = outputFormat
        self.createdAt = createdAt
        self.completedAt = completedAt
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case status, output, text, engine, metrics, width, height, seed
        case outputFormat = "output_format"
        case createdAt = "created_at"
        case completedAt = "completed_at"
    }
}

/// Every error response: `{"error": "<sentence>"}`, plus the request's id and URLs when the
/// error concerns a request that exists (a v1 call that timed out, for instance).
public struct ErrorBody: Sendable, Equatable, Codable {
    public var error: String
    public var requestID: String?
    public var status: JobStatus?
    public var statusURL: String?
    public var responseURL: String?

    public init(
        error: String, requestID: String? = nil, status: JobStatus? = nil, statusURL: String? = nil,
        responseURL: String? = nil
    ) {
        self.error = error
        self.requestID = requestID
        self.status = status
        self.statusURL = statusURL
        self.responseURL = responseURL
    }

    enum CodingKeys: String, CodingKey {
        case error
        case requestID = "request_id"
        case status
        case statusURL = "status_url"
        case responseURL = "response_url"
    }
}

/// What an upstream model reported and cost for one request: retries and tokens.
public struct UpstreamUsage: Sendable, Equatable, Codable {
    /// Upstream calls retried after a transient failure (429, 5xx, connection).
    public var retries: Int
    public var promptTokens: Int?
    public var outputTokens: Int?
    public var totalTokens: Int?

    public init(retries: Int = 0, promptTokens: Int? = nil, outputTokens: Int? = nil, totalTokens: Int? = nil) {
        self.retries = retries
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens
    }

    enum CodingKeys: String, CodingKey {
        case retries
        case promptTokens = "prompt_tokens"
        case outputTokens = "output_tokens"
        case totalTokens = "total_tokens"
    }
}
