import Engines
import Foundation
import Logging
import NanoBananaAPI
import Store

/// Everything `serve` and `worker` can be told, with the defaults a first run needs. Each
/// setting has an environment variable and a flag (``ConfigurationSetting``); both are read
/// in ``init(values:)`` and nowhere else, and a flag wins over its variable.
public struct ServerConfiguration: Sendable {
    /// Which engine makes the images.
    public enum EngineKind: String, Sendable, CaseIterable {
        /// The offline deterministic renderer.
        case preview
        /// The real model, through Google's Gemini API.
        case gemini
        /// A fixed tiny image at no cost: for measuring the gateway itself.
        case null
    }

    /// Interface to listen on. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// TCP port. Default 8080; 0 picks a free one.
    public var port = 8080
    /// Where the database and images live. Default `./data`.
    public var dataDirectory = "./data"
    /// A PostgreSQL URL (`postgres://user@host:port/db`) for a store shared by many nodes;
    /// `nil` keeps the embedded SQLite store in ``dataDirectory``.
    public var storeURL: String?
    /// Seconds a finished request's result and image are kept. Default 3600.
    public var retention: TimeInterval = 3600
    /// Jobs run at once by this process's worker pool. Default: the number of cores.
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    /// Whether this process runs workers at all.
    public var runsWorkers = true
    /// Prompt words that make the preview engine fail a job as a content block.
    public var blockedWords: [String] = []
    /// A simulated delay in the preview engine, in seconds. Default 0.
    public var previewLatency: TimeInterval = 0
    /// The engine; `nil` chooses: `gemini` when a Gemini API key is set, else `preview`.
    public var engine: EngineKind?
    /// Google's API key (`GEMINI_API_KEY`). Never logged.
    public var geminiAPIKey: String?
    /// Where the Gemini API is (`GEMINI_BASE_URL`): a proxy, or a fake in tests.
    public var geminiBaseURL = "https://generativelanguage.googleapis.com"
    /// The model slugs served, each with its upstream Gemini model id. Adding a slug is a
    /// configuration entry (`--model nano-banana-pro=gemini-3-pro-image-preview`), not code.
    public var models = [NanoBanana2Parameters.modelSlug: "gemini-3.1-flash-image-preview"]
    /// Requests in flight to the upstream model at once, per slug. Default 8.
    public var upstreamConcurrency = 8
    /// Credits one request costs, by `output_resolution` (1 credit = $0.001 by default,
    /// Google's own price of the image). Metered keys pay; unmetered keys do not.
    public var prices: [OutputResolution: Int] = [.px512: 45, .oneK: 67, .twoK: 101, .fourK: 151]
    /// Rate limits for keys without their own, the global queue cap, and the bytes of
    /// parameters (inline reference images included) one key's QUEUED jobs may hold; 0
    /// means no limit. Defaults: no per-key rate limits, at most 10,000 QUEUED jobs, and
    /// 256 MiB queued per key.
    public var limits = SubmitLimits(
        perMinute: 0, burst: 0, maxInFlight: 0, maxQueueLength: 10_000, maxQueuedBytes: 256 * 1024 * 1024)
    /// Bytes of uploads (`POST /upload-asset`) one key may hold at once, until the retention
    /// deletes them; 0 means no limit. Default 1 GiB.
    public var uploadQuota = UploadQuota.defaultBytes
    /// Hosts whose http(s) reference images may be fetched even though they resolve to
    /// private or reserved addresses (an operator's own image server), each on every port
    /// (`img.internal`) or on one (`img.internal:8443`). Default none.
    public var allowedFetchHosts: [AllowedHost] = []
    /// Hosts webhooks may be delivered to even though they resolve to private or reserved
    /// addresses (a trusted internal receiver), as for ``allowedFetchHosts``. Default none.
    public var allowedWebhookHosts: [AllowedHost] = []
    /// When failed webhook deliveries are retried, and how long one attempt may take.
    /// Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; 10 s per attempt.
    public var webhookRetry = WebhookRetryPolicy()

    /// The engine actually used.
    public var resolvedEngine: EngineKind { engine ?? (geminiAPIKey == nil ? .preview : .gemini) }
    /// Base of the absolute URLs the API returns, e.g. `https://images.example.com`.
    /// Default: `http://` and the request's `Host` header.
    public var publicBaseURL: String?
    /// Seconds a v1 (sync) request waits for its job before answering 504. Default 300.
    public var syncTimeout: TimeInterval = 300
    /// Seconds an engine may spend on one job before it FAILS as timed out. Default 600.
    public var jobTimeout: TimeInterval = 600
    /// Largest request body accepted, in bytes (413 above). Default 64 MiB, room for 14
    /// reference images inlined as `data:` URLs.
    public var maxBodyBytes = 64 * 1024 * 1024
    /// Seconds a worker's claim on a job lasts without a heartbeat. Default 30.
    public var leaseDuration: TimeInterval = 30
    /// Claims before a job whose workers keep dying is FAILED. Default 3.
    public var maxAttempts = 3
    /// Seconds between retention sweeps. Default 60 (or less for short retentions).
    public var sweepInterval: TimeInterval = 60
    /// Seconds in-flight jobs get to finish on shutdown before they are handed back to the
    /// queue. Default 10.
    public var drainTimeout: TimeInterval = 10
    /// Seconds an operation on a PostgreSQL store may wait for a connection before the
    /// store is reported unavailable (503); a running operation gets at least 8. Default 5.
    public var storeTimeout: TimeInterval = 5
    /// Seconds between the comments a quiet event stream (`/v2/requests/{id}/events`)
    /// sends to keep proxies from closing it. 15, as most proxies close after 30–60.
    public var eventKeepAlive: TimeInterval = 15
    /// A port for a second listener, on ``host``, that serves `GET /metrics` without a key
    /// (0 picks a free one); `nil`: none, the metrics are only at the API's `/metrics` for
    /// an admin key.
    public var metricsPort: Int?
    /// The HTTP server's timeouts and its cap on open connections.
    public var connections = ConnectionLimits()
    /// How much the process logs. Default `info`.
    public var logLevel: Logger.Level = .info
    /// How the log lines are written, all to standard error. Default `text`.
    public var logFormat = LogFormat.text

    public init() {}

    /// Checks what no single setting can: the settings together. (``init(values:)`` has
    /// checked each one, and ends with this.)
    public func validate() throws(ConfigurationError) {
        if resolvedEngine == .gemini && (geminiAPIKey ?? "").isEmpty {
            throw .invalid(name: "engine", value: "gemini", expected: "GEMINI_API_KEY to be set")
        }
    }

    /// The PostgreSQL store, when one is configured.
    public var postgresLocation: PostgresLocation? { storeURL.flatMap { try? PostgresLocation(url: $0) } }

    /// The sweep interval actually used: short retentions are swept more often.
    var effectiveSweepInterval: TimeInterval { max(0.2, min(sweepInterval, retention / 4)) }
}

/// A configuration value that cannot be used.
public enum ConfigurationError: Error, Sendable, CustomStringConvertible {
    case invalid(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalid(let name, let value, let expected): "Invalid \(name) '\(value)': expected \(expected)."
        }
    }
}
