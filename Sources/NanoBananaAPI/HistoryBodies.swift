/// The JSON bodies of the history and upload routes, in the shapes the segmind SDK reads
/// (`generations.history()`, `generations.get()`, `files.upload()`).

/// One request in a key's history: `GET /v2/requests` (each of `data`) and
/// `GET /v2/requests/{id}/detail`. Every key is present; what does not apply is `null`.
public struct HistoryRowBody: Sendable, Equatable, Codable {
    /// The states of `model_status`: the segmind SDK's three.
    public enum ModelStatus: String, Sendable, Codable, CaseIterable {
        case completed = "COMPLETED"
        case failed = "FAILED"
        /// QUEUED or PROCESSING.
        case pending = "PENDING"

        public init(_ status: JobStatus) {
            switch status {
            case .completed: self = .completed
            case .failed: self = .failed
            case .queued, .processing: self = .pending
            }
        }
    }

    public var requestID: String
    /// The model's slug.
    public var modelName: String
    public var modelStatus: ModelStatus
    /// The request's own status, as `GET /v2/requests/{id}/status` names it.
    public var status: JobStatus
    /// Credits the request costs (0 once FAILED: failures are refunded).
    public var creditsDeduction: Int
    /// The parameters it was submitted with (defaults filled in), long `data:` URLs
    /// replaced by a short marker; `null` for a request stored before bodies were kept.
    public var requestBody: JSONValue?
    /// A signed link to the image, once COMPLETED; it expires with the result.
    public var generationURL: String?
    /// Milliseconds from submit to the end, once finished.
    public var latencyMilliseconds: Int?
    /// ISO 8601 timestamps.
    public var createdAt: String
    public var completedAt: String?
    /// Why it FAILED.
    public var error: String?

    public init(
        requestID: String, modelName: String, status: JobStatus, creditsDeduction: Int, requestBody: JSONValue?,
        generationURL: String?, latencyMilliseconds: Int?, createdAt: String, completedAt: String?, error: String?
    ) {
        self.requestID = requestID
        self.modelName = modelName
        self.modelStatus = ModelStatus(status)
        self.status = status
        self.creditsDeduction = creditsDeduction
        self.requestBody = requestBody
        self.generationURL = generationURL
        self.latencyMilliseconds = latencyMilliseconds
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case modelName = "model_name"
        case modelStatus = "model_status"
        case status
        case creditsDeduction = "credits_deduction"
        case requestBody = "request_body"
        case generationURL = "generation_url"
        case latencyMilliseconds = "latency_ms"
        case createdAt = "created_at"
        case completedAt = "completed_at"
        case error
    }

    /// Writes `null` for what is absent, rather than leaving the key out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(modelName, forKey: .modelName)
        try container.encode(modelStatus, forKey: .modelStatus)
        try container.encode(status, forKey: .status)
        try container.encode(creditsDeduction, forKey: .creditsDeduction)
        try container.encode(requestBody ?? .null, forKey: .requestBody)
        try container.encode(generationURL, forKey: .generationURL)
        try container.encode(latencyMilliseconds, forKey: .latencyMilliseconds)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(completedAt, forKey: .completedAt)
        try container.encode(error, forKey: .error)
    }
}

/// `GET /v2/requests`: one page of a key's history, newest first unless asked otherwise.
public struct HistoryPageBody: Sendable, Equatable, Codable {
    public var data: [HistoryRowBody]
    /// The page shown (1 is the first) and the rows a page holds.
    public var page: Int
    public var perPage: Int
    /// Rows on every page, and the number of pages (0 when there are none).
    public var total: Int
    public var totalPages: Int

    public init(data: [HistoryRowBody], page: Int, perPage: Int, total: Int) {
        self.data = data
        self.page = page
        self.perPage = perPage
        self.total = total
        self.totalPages = perPage > 0 ? (total + perPage - 1) / perPage : 0
    }

    enum CodingKeys: String, CodingKey {
        case data
        case page
        case perPage = "per_page"
        case total
        case totalPages = "total_pages"
    }
}

/// `POST /upload-asset`: the files as `data:` URLs, in Segmind's storage shape.
public struct UploadRequestBody: Sendable, Equatable, Codable {
    public var dataURLs: [String]

    public init(dataURLs: [String]) {
        self.dataURLs = dataURLs
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataURLs = "data_urls"
    }
}

/// `POST /upload-asset` → 200: a signed link for each file, in order, to pass in
/// `image_urls`; each stays valid for the server's retention.
public struct UploadedFilesBody: Sendable, Equatable, Codable {
    public var fileURLs: [String]
    public var message: String

    public init(fileURLs: [String], message: String = "Files uploaded successfully") {
        self.fileURLs = fileURLs
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case fileURLs = "file_urls"
        case message
    }
}
