import Foundation
import NanoBananaAPI
import Store

/// Everything `serve` can be told, with the defaults a first run needs. Flags override the
/// environment; the environment is read in ``init(environment:)`` and nowhere else.
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
    /// Rate limits for keys without their own, and the global queue cap; 0 means no limit.
    /// Defaults: no per-key limits, and at most 10,000 QUEUED jobs.
    public var limits = SubmitLimits(perMinute: 0, burst: 0, maxInFlight: 0, maxQueueLength: 10_000)
    /// Hosts whose http(s) reference images may be fetched even though they resolve to
    /// private or reserved addresses (an operator's own image server). Default none.
    public var allowedFetchHosts: [String] = []

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

    public init() {}

    /// Reads the `NANO_BANANA_*` variables (and `PORT`); unset variables keep the defaults.
    public init(environment: [String: String]) throws(ConfigurationError) {
        let reader = EnvironmentReader(environment: environment)
        host = reader.string("NANO_BANANA_HOST") ?? host
        port = try reader.integer("NANO_BANANA_PORT", in: 0...65535) ?? port
        dataDirectory = reader.string("NANO_BANANA_DATA_DIR") ?? dataDirectory
        storeURL = reader.string("NANO_BANANA_STORE") ?? storeURL
        if let value = reader.string("NANO_BANANA_NO_WORKERS") { runsWorkers = !["1", "true", "yes"].contains(value) }
        retention = try reader.seconds("NANO_BANANA_RETENTION") ?? retention
        workers = try reader.integer("NANO_BANANA_WORKERS", in: 0...1024) ?? workers
        blockedWords = reader.list("NANO_BANANA_BLOCK_WORDS") ?? blockedWords
        previewLatency = try reader.seconds("NANO_BANANA_PREVIEW_LATENCY") ?? previewLatency
        if let name = reader.string("NANO_BANANA_ENGINE") {
            guard let kind = EngineKind(rawValue: name) else {
                throw .invalid(name: "NANO_BANANA_ENGINE", value: name, expected: "preview, gemini or null")
            }
            engine = kind
        }
        geminiAPIKey = reader.string("GEMINI_API_KEY")
        geminiBaseURL = reader.string("GEMINI_BASE_URL") ?? geminiBaseURL
        for entry in reader.list("NANO_BANANA_MODELS") ?? [] {
            let (slug, model) = try Self.parseModelEntry(entry, source: "NANO_BANANA_MODELS")
            models[slug] = model
        }
        upstreamConcurrency =
            try reader.integer("NANO_BANANA_UPSTREAM_CONCURRENCY", in: 1...1024) ?? upstreamConcurrency
        allowedFetchHosts = reader.list("NANO_BANANA_ALLOW_FETCH_HOSTS") ?? allowedFetchHosts
        limits.perMinute = try reader.integer("NANO_BANANA_RPM", in: 0...1_000_000) ?? limits.perMinute
        limits.burst = try reader.integer("NANO_BANANA_BURST", in: 0...1_000_000) ?? limits.burst
        limits.maxInFlight = try reader.integer("NANO_BANANA_MAX_IN_FLIGHT", in: 0...1_000_000) ?? limits.maxInFlight
        limits.maxQueueLength =
            try reader.integer("NANO_BANANA_MAX_QUEUE", in: 0...100_000_000) ?? limits.maxQueueLength
        for entry in reader.list("NANO_BANANA_PRICES") ?? [] {
            let sides = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard sides.count == 2, let resolution = OutputResolution(rawValue: sides[0]), let price = Int(sides[1]),
                price >= 0
            else {
                throw .invalid(name: "NANO_BANANA_PRICES", value: entry, expected: "RESOLUTION=CREDITS, e.g. 1K=67")
            }
            prices[resolution] = price
        }
        publicBaseURL = reader.string("NANO_BANANA_PUBLIC_URL") ?? publicBaseURL
        syncTimeout = try reader.seconds("NANO_BANANA_SYNC_TIMEOUT") ?? syncTimeout
        jobTimeout = try reader.seconds("NANO_BANANA_JOB_TIMEOUT") ?? jobTimeout
        maxBodyBytes = try reader.integer("NANO_BANANA_MAX_BODY_BYTES", in: 1024...(1 << 31)) ?? maxBodyBytes
        leaseDuration = try reader.seconds("NANO_BANANA_LEASE") ?? leaseDuration
        maxAttempts = try reader.integer("NANO_BANANA_MAX_ATTEMPTS", in: 1...100) ?? maxAttempts
    }

    /// Parses `slug=upstream-model-id`.
    public static func parseModelEntry(_ entry: String, source: String) throws(ConfigurationError) -> (String, String) {
        let sides = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty,
            sides[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" })
        else {
            throw .invalid(
                name: source, value: entry,
                expected: "slug=upstream-model-id, e.g. nano-banana-pro=gemini-3-pro-image-preview")
        }
        return (sides[0], sides[1])
    }

    /// Checks the combination of values; call after applying flags.
    public func validate() throws(ConfigurationError) {
        if resolvedEngine == .gemini && (geminiAPIKey ?? "").isEmpty {
            throw .invalid(name: "engine", value: "gemini", expected: "GEMINI_API_KEY to be set")
        }
        if URL(string: geminiBaseURL)?.host == nil {
            throw .invalid(name: "GEMINI_BASE_URL", value: geminiBaseURL, expected: "an absolute URL")
        }
        if retention <= 0 {
            throw .invalid(name: "retention", value: "\(retention)", expected: "a positive number of seconds")
        }
        if syncTimeout <= 0 {
            throw .invalid(name: "sync timeout", value: "\(syncTimeout)", expected: "a positive number of seconds")
        }
        if jobTimeout <= 0 {
            throw .invalid(name: "job timeout", value: "\(jobTimeout)", expected: "a positive number of seconds")
        }
        if leaseDuration < 1 { throw .invalid(name: "lease", value: "\(leaseDuration)", expected: "at least 1 second") }
        if previewLatency < 0 {
            throw .invalid(name: "preview latency", value: "\(previewLatency)", expected: "0 or more seconds")
        }
        if let storeURL {
            do {
                _ = try PostgresLocation(url: storeURL)
            } catch {
                throw .invalid(
                    name: "store URL", value: PostgresLocation.redacted(storeURL),
                    expected: "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&schema=…] (\(error.problem))")
            }
        }
        if let base = publicBaseURL, URL(string: base)?.host == nil {
            throw .invalid(
                name: "public URL", value: base, expected: "an absolute URL such as https://images.example.com")
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

private struct EnvironmentReader {
    let environment: [String: String]

    func string(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .invalid(name: name, value: text, expected: "an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func seconds(_ name: String) throws(ConfigurationError) -> TimeInterval? {
        guard let text = string(name) else { return nil }
        guard let value = TimeInterval(text), value >= 0, value.isFinite else {
            throw .invalid(name: name, value: text, expected: "a number of seconds")
        }
        return value
    }

    func list(_ name: String) -> [String]? {
        string(name).map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }
}
