/// One thing `serve` and `worker` can be told, by its environment variable (the raw value)
/// and, for every tunable, a flag of the same meaning. The list is the whole configuration
/// surface: ``ConfigurationValues`` reads these variables and nothing else.
public enum ConfigurationSetting: String, Sendable, CaseIterable {
    case host = "NANO_BANANA_HOST"
    case port = "NANO_BANANA_PORT"
    case dataDirectory = "NANO_BANANA_DATA_DIR"
    case store = "NANO_BANANA_STORE"
    case noWorkers = "NANO_BANANA_NO_WORKERS"
    case retention = "NANO_BANANA_RETENTION"
    case workers = "NANO_BANANA_WORKERS"
    case blockWords = "NANO_BANANA_BLOCK_WORDS"
    case previewLatency = "NANO_BANANA_PREVIEW_LATENCY"
    case engine = "NANO_BANANA_ENGINE"
    case geminiAPIKey = "GEMINI_API_KEY"
    case geminiBaseURL = "GEMINI_BASE_URL"
    case models = "NANO_BANANA_MODELS"
    case upstreamConcurrency = "NANO_BANANA_UPSTREAM_CONCURRENCY"
    case allowFetchHosts = "NANO_BANANA_ALLOW_FETCH_HOSTS"
    case requestsPerMinute = "NANO_BANANA_RPM"
    case burst = "NANO_BANANA_BURST"
    case maxInFlight = "NANO_BANANA_MAX_IN_FLIGHT"
    case maxQueue = "NANO_BANANA_MAX_QUEUE"
    case maxQueuedBytesPerKey = "NANO_BANANA_MAX_QUEUED_BYTES_PER_KEY"
    case prices = "NANO_BANANA_PRICES"
    case publicURL = "NANO_BANANA_PUBLIC_URL"
    case syncTimeout = "NANO_BANANA_SYNC_TIMEOUT"
    case jobTimeout = "NANO_BANANA_JOB_TIMEOUT"
    case maxBodyBytes = "NANO_BANANA_MAX_BODY_BYTES"
    case lease = "NANO_BANANA_LEASE"
    case maxAttempts = "NANO_BANANA_MAX_ATTEMPTS"
    case sweepInterval = "NANO_BANANA_SWEEP_INTERVAL"
    case drainTimeout = "NANO_BANANA_DRAIN_TIMEOUT"
    case storeTimeout = "NANO_BANANA_STORE_TIMEOUT"
    case logLevel = "LOG_LEVEL"

    /// The environment variable.
    public var variable: String { rawValue }

    /// The long flag's name, without its dashes; `nil` for the Gemini API key, which stays
    /// out of the command line (and so out of `ps`).
    public var flag: String? {
        switch self {
        case .host: "host"
        case .port: "port"
        case .dataDirectory: "data-dir"
        case .store: "store"
        case .noWorkers: "no-workers"
        case .retention: "retention"
        case .workers: "workers"
        case .blockWords: "block-word"
        case .previewLatency: "preview-latency"
        case .engine: "engine"
        case .geminiAPIKey: nil
        case .geminiBaseURL: "gemini-base-url"
        case .models: "model"
        case .upstreamConcurrency: "upstream-concurrency"
        case .allowFetchHosts: "allow-fetch-host"
        case .requestsPerMinute: "rpm"
        case .burst: "burst"
        case .maxInFlight: "max-in-flight"
        case .maxQueue: "max-queue"
        case .maxQueuedBytesPerKey: "max-queued-bytes-per-key"
        case .prices: "price"
        case .publicURL: "public-url"
        case .syncTimeout: "sync-timeout"
        case .jobTimeout: "job-timeout"
        case .maxBodyBytes: "max-body-bytes"
        case .lease: "lease"
        case .maxAttempts: "max-attempts"
        case .sweepInterval: "sweep-interval"
        case .drainTimeout: "drain-timeout"
        case .storeTimeout: "store-timeout"
        case .logLevel: "log-level"
        }
    }
}
