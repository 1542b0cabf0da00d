import ArgumentParser
import Foundation
import Logging
import Server

/// The options every node has, whether it serves the API (`serve`) or only runs jobs
/// (`worker`): where the store is, and how jobs are run. Each is a setting's flag, taken as
/// text: ``ServerConfiguration/init(values:)`` checks it exactly as it checks the variable.
struct NodeOptions: ParsableArguments {
    @Option(
        name: .setting(.dataDirectory),
        help: ArgumentHelp(
            "Where the database and images live. [NANO_BANANA_DATA_DIR] (default: ./data)", valueName: "dir"))
    var dataDir: String?

    @Option(
        name: .setting(.store),
        help: ArgumentHelp(
            "A PostgreSQL store shared by many nodes: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&schema=…]. [NANO_BANANA_STORE] (default: SQLite in --data-dir)",
            valueName: "url"))
    var store: String?

    @Option(
        name: .setting(.retention),
        help: ArgumentHelp("Seconds results are kept. [NANO_BANANA_RETENTION] (default: 3600)", valueName: "seconds"))
    var retention: String?

    @Option(
        name: .setting(.sweepInterval),
        help: ArgumentHelp(
            "Seconds between sweeps of expired results; at most a quarter of --retention is used. [NANO_BANANA_SWEEP_INTERVAL] (default: 60)",
            valueName: "seconds"))
    var sweepInterval: String?

    @Option(
        name: .setting(.workers),
        help: ArgumentHelp("Jobs run at once. [NANO_BANANA_WORKERS] (default: number of cores)", valueName: "n"))
    var workers: String?

    @Option(
        name: .setting(.blockWords),
        help: ArgumentHelp(
            "A prompt word that fails jobs as a content block; repeatable. [NANO_BANANA_BLOCK_WORDS, comma-separated]",
            valueName: "word"))
    var blockWords: [String] = []

    @Option(
        name: .setting(.previewLatency),
        help: ArgumentHelp(
            "Simulated seconds of preview-engine latency. [NANO_BANANA_PREVIEW_LATENCY] (default: 0)",
            valueName: "seconds"))
    var previewLatency: String?

    @Option(
        name: .setting(.engine),
        help: ArgumentHelp(
            "Engine: preview, gemini or null. [NANO_BANANA_ENGINE] (default: gemini when GEMINI_API_KEY is set, else preview)",
            valueName: "name"))
    var engine: String?

    @Option(
        name: .setting(.models),
        help: ArgumentHelp(
            "Serve another slug with an upstream Gemini model: SLUG=MODEL_ID; repeatable. [NANO_BANANA_MODELS, comma-separated]",
            valueName: "slug=model-id"))
    var modelEntries: [String] = []

    @Option(
        name: .setting(.geminiBaseURL),
        help: ArgumentHelp(
            "Where the Gemini API is: a proxy, or a test double. [GEMINI_BASE_URL] (default: https://generativelanguage.googleapis.com)",
            valueName: "url"))
    var geminiBaseURL: String?

    @Option(
        name: .setting(.upstreamConcurrency),
        help: ArgumentHelp(
            "Requests in flight to the upstream model at once, per slug. [NANO_BANANA_UPSTREAM_CONCURRENCY] (default: 8)",
            valueName: "n"))
    var upstreamConcurrency: String?

    @Option(
        name: .setting(.jobTimeout),
        help: ArgumentHelp(
            "Seconds one job may run before it fails. [NANO_BANANA_JOB_TIMEOUT] (default: 600)", valueName: "seconds"))
    var jobTimeout: String?

    @Option(
        name: .setting(.lease),
        help: ArgumentHelp(
            "Seconds a worker's claim on a job lasts between heartbeats. [NANO_BANANA_LEASE] (default: 30)",
            valueName: "seconds"))
    var lease: String?

    @Option(
        name: .setting(.maxAttempts),
        help: ArgumentHelp(
            "Claims before a job whose workers keep dying FAILS. [NANO_BANANA_MAX_ATTEMPTS] (default: 3)",
            valueName: "n"))
    var maxAttempts: String?

    @Option(
        name: .setting(.drainTimeout),
        help: ArgumentHelp(
            "Seconds running jobs get to finish on shutdown before they go back to the queue. [NANO_BANANA_DRAIN_TIMEOUT] (default: 10)",
            valueName: "seconds"))
    var drainTimeout: String?

    @Option(
        name: .setting(.storeTimeout),
        help: ArgumentHelp(
            "Seconds an operation waits for a PostgreSQL connection before the store counts as unavailable (503). [NANO_BANANA_STORE_TIMEOUT] (default: 5)",
            valueName: "seconds"))
    var storeTimeout: String?

    @Option(
        name: .setting(.metricsPort),
        help: ArgumentHelp(
            "Also serve GET /metrics (Prometheus) without a key on this port, on the same host; 0 picks a free one. [NANO_BANANA_METRICS_PORT] (default: none; /metrics on the API port needs an admin key)",
            valueName: "port"))
    var metricsPort: String?

    @Option(
        name: .setting(.allowFetchHosts),
        help: ArgumentHelp(
            "A host whose http(s) reference images may be fetched although it is private, on every port or, as HOST:PORT, on one; repeatable. [NANO_BANANA_ALLOW_FETCH_HOSTS]",
            valueName: "host[:port]"))
    var allowFetchHosts: [String] = []

    @Option(
        name: .setting(.allowWebhookHosts),
        help: ArgumentHelp(
            "A host webhooks may be delivered to although it is private, on every port or, as HOST:PORT, on one; repeatable. [NANO_BANANA_ALLOW_WEBHOOK_HOSTS]",
            valueName: "host[:port]"))
    var allowWebhookHosts: [String] = []

    @Option(
        name: .setting(.webhookRetrySchedule),
        help: ArgumentHelp(
            "Delays before each retry of a failed webhook delivery. [NANO_BANANA_WEBHOOK_RETRY_SCHEDULE] (default: 5s,5m,30m,2h,5h,10h,10h)",
            valueName: "delays"))
    var webhookRetrySchedule: String?

    @Option(
        name: .setting(.webhookTimeout),
        help: ArgumentHelp(
            "Seconds one webhook delivery may take. [NANO_BANANA_WEBHOOK_TIMEOUT] (default: 10)",
            valueName: "seconds"))
    var webhookTimeout: String?

    @Option(
        name: .setting(.logLevel),
        help: ArgumentHelp(
            "Log level: trace, debug, info, notice, warning, error, critical. [LOG_LEVEL] (default: info)",
            valueName: "level"))
    var logLevel: String?

    @Option(
        name: .setting(.logFormat),
        help: ArgumentHelp(
            "Log lines on stderr: text, or json (one object per line). [NANO_BANANA_LOG_FORMAT] (default: text)",
            valueName: "format"))
    var logFormat: String?

    /// The configuration, read once: the environment, these flags over it, then the
    /// command's own (`commandFlags`).
    func configuration(_ commandFlags: (inout ConfigurationValues) -> Void = { _ in }) throws -> ServerConfiguration {
        var values = ConfigurationValues(environment: ProcessInfo.processInfo.environment)
        values.override(.dataDirectory, with: dataDir)
        values.override(.store, with: store)
        values.override(.retention, with: retention)
        values.override(.sweepInterval, with: sweepInterval)
        values.override(.workers, with: workers)
        values.override(.blockWords, with: blockWords)
        values.override(.previewLatency, with: previewLatency)
        values.override(.engine, with: engine)
        values.override(.models, with: modelEntries)
        values.override(.geminiBaseURL, with: geminiBaseURL)
        values.override(.upstreamConcurrency, with: upstreamConcurrency)
        values.override(.jobTimeout, with: jobTimeout)
        values.override(.lease, with: lease)
        values.override(.maxAttempts, with: maxAttempts)
        values.override(.drainTimeout, with: drainTimeout)
        values.override(.storeTimeout, with: storeTimeout)
        values.override(.metricsPort, with: metricsPort)
        values.override(.allowFetchHosts, with: allowFetchHosts)
        values.override(.allowWebhookHosts, with: allowWebhookHosts)
        values.override(.webhookRetrySchedule, with: webhookRetrySchedule)
        values.override(.webhookTimeout, with: webhookTimeout)
        values.override(.logLevel, with: logLevel)
        values.override(.logFormat, with: logFormat)
        commandFlags(&values)
        do {
            return try ServerConfiguration(values: values)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The process's logger, once every logger of the process writes in the configured
    /// format (``LogOutput``).
    func logger(_ configuration: ServerConfiguration) -> Logger {
        LogOutput.bootstrap(configuration.logFormat, level: configuration.logLevel)
        var logger = Logger(label: "nano-banana")
        logger.logLevel = configuration.logLevel
        return logger
    }

    /// Opens the store and the engine, saying which engine serves when nobody chose one.
    func openComponents(_ configuration: ServerConfiguration, logger: Logger) async throws -> ServerComponents {
        let components = try await ServerComponents(configuration: configuration, logger: logger)
        if configuration.engine == nil && configuration.resolvedEngine == .preview && configuration.runsWorkers {
            logger.notice(
                "GEMINI_API_KEY is not set: serving with the offline preview engine (results say \"engine\": \"preview\")."
            )
        }
        return components
    }

    func storeDescription(_ configuration: ServerConfiguration) -> String {
        configuration.postgresLocation?.description ?? "sqlite:\(configuration.dataDirectory)"
    }
}

extension NameSpecification {
    /// A configuration setting's flag, by the name ``ConfigurationSetting/flag`` gives it (so
    /// that errors name the flag the operator typed).
    static func setting(_ setting: ConfigurationSetting, short: Character? = nil) -> NameSpecification {
        guard let flag = setting.flag else { preconditionFailure("\(setting.variable) has no flag") }
        return NameSpecification([.customLong(flag)] + (short.map { [.customShort($0)] } ?? []))
    }
}
