import Foundation
import NanoBananaAPI

/// A job as the API submits it.
public struct NewJob: Sendable {
    public var id: String
    public var keyID: String
    public var model: String
    /// The validated parameters as JSON, handed to the engine unchanged. They may be
    /// large (inline reference images), so only a claim reads them back.
    public var parameters: String
    /// The seed among the parameters, reported in results.
    public var seed: Int64
    public var maxAttempts: Int
    /// Credits reserved at submit, settled on COMPLETED, refunded on FAILED.
    public var cost: Int
    /// Whether the key pays: an unmetered key's cost is recorded, not charged.
    public var metered: Bool
    /// The key's rate limits and the queue's backpressure; `nil`: none.
    public var limits: SubmitLimits?
    /// The id of the HTTP request that submitted the job (its `x-request-id`, its
    /// `traceparent`'s trace-id, or one the server made up), kept so that the job's log
    /// lines carry it, on whichever node runs it.
    public var httpRequestID: String?
    /// Where the job's webhook events go (``WebhookPlan``); `nil`: nowhere.
    public var webhooks: [WebhookTarget]?
    /// The body as the history shows it (``HistoryRow/requestBody``): the parameters with
    /// long `data:` URLs shortened, kept after the job ends (``parameters`` are not).
    public var requestBody: String?

    /// The size of ``parameters`` in bytes, which counts against the key's queued bytes.
    public var parameterBytes: Int { parameters.utf8.count }

    public init(
        id: String, keyID: String, model: String, parameters: String, seed: Int64, maxAttempts: Int, cost: Int = 0,
        metered: Bool = true, limits: SubmitLimits? = nil, httpRequestID: String? = nil,
        webhooks: [WebhookTarget]? = nil, requestBody: String? = nil
    ) {
        self.requestBody = requestBody
        self.httpRequestID = httpRequestID
        self.webhooks = webhooks?.isEmpty == true ? nil : webhooks
        self.cost = cost
        self.metered = metered
        self.limits = limits
        self.id = id
        self.keyID = keyID
        self.model = model
        self.parameters = parameters
        self.seed = seed
        self.maxAttempts = maxAttempts
    }
}

/// What a worker hands back for a finished job.
public struct JobOutput: Sendable, Equatable {
    /// The key under which the store keeps the image (``JobStore/image(key:)``).
    public var blobKey: String
    public var format: OutputFormat
    public var width: Int
    public var height: Int
    public var text: String?
    public var engine: String
    /// Seconds the engine spent.
    public var inferenceTime: Double
    /// Upstream retries and tokens.
    public var usage: UpstreamUsage

    public init(
        blobKey: String, format: OutputFormat, width: Int, height: Int, text: String?, engine: String,
        inferenceTime: Double, usage: UpstreamUsage = .init()
    ) {
        self.blobKey = blobKey
        self.format = format
        self.width = width
        self.height = height
        self.text = text
        self.engine = engine
        self.inferenceTime = inferenceTime
        self.usage = usage
    }
}

/// A stored job: its submission, lifecycle state, timestamps and (once COMPLETED) output.
public struct JobRecord: Sendable, Equatable {
    /// Position in the queue: lower is older.
    public var sequence: Int64
    public var id: String
    public var keyID: String
    public var model: String
    public var seed: Int64
    /// Credits this request costs (refunded, and so 0 in effect, once FAILED).
    public var cost: Int = 0
    public var state: JobState
    public var createdAt: Date
    public var startedAt: Date?
    public var completedAt: Date?
    public var output: JobOutput?
    /// The id of the HTTP request that submitted it (``NewJob/httpRequestID``), if known.
    public var httpRequestID: String?
    /// Where the job's webhook events go; `nil`: nowhere.
    public var webhooks: [WebhookTarget]?

    public var status: JobStatus { state.status }

    /// Seconds spent waiting for a worker (until now while still QUEUED).
    public func queueTime(now: Date) -> Double {
        (startedAt ?? (status == .queued ? now : completedAt ?? now)).timeIntervalSince(createdAt)
    }

    /// Seconds from submit to the end (until now while unfinished).
    public func totalTime(now: Date) -> Double {
        (completedAt ?? now).timeIntervalSince(createdAt)
    }
}

/// A job a worker has just claimed, with the parameters it needs to run it.
public struct ClaimedJob: Sendable, Equatable {
    public var record: JobRecord
    /// The validated parameters as JSON, as submitted.
    public var parameters: String

    public var id: String { record.id }
}
