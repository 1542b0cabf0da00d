import Foundation

/// Everything `serve` can be told, with the defaults a first run needs. Flags override the
/// environment; the environment is read in ``init(environment:)`` and nowhere else.
public struct ServerConfiguration: Sendable {
    /// Which engine makes the images.
    public enum EngineKind: String, Sendable, CaseIterable {
        /// The offline deterministic renderer.
        case preview
        /// A fixed tiny image at no cost: for measuring the gateway itself.
        case null
    }

    /// Interface to listen on. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// TCP port. Default 8080; 0 picks a free one.
    public var port = 8080
    /// Where the database and images live. Default `./data`.
    public var dataDirectory = "./data"
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
    /// The engine. Default `preview`.
    public var engine: EngineKind = .preview
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
        retention = try reader.seconds("NANO_BANANA_RETENTION") ?? retention
        workers = try reader.integer("NANO_BANANA_WORKERS", in: 0...1024) ?? workers
        blockedWords = reader.list("NANO_BANANA_BLOCK_WORDS") ?? blockedWords
        previewLatency = try reader.seconds("NANO_BANANA_PREVIEW_LATENCY") ?? previewLatency
        if let name = reader.string("NANO_BANANA_ENGINE") {
            guard let kind = EngineKind(rawValue: name) else {
                throw .invalid(name: "NANO_BANANA_ENGINE", value: name, expected: "preview or null")
            }
            engine = kind
        }
        publicBaseURL = reader.string("NANO_BANANA_PUBLIC_URL") ?? publicBaseURL
        syncTimeout = try reader.seconds("NANO_BANANA_SYNC_TIMEOUT") ?? syncTimeout
        jobTimeout = try reader.seconds("NANO_BANANA_JOB_TIMEOUT") ?? jobTimeout
        maxBodyBytes = try reader.integer("NANO_BANANA_MAX_BODY_BYTES", in: 1024...(1 << 31)) ?? maxBodyBytes
        leaseDuration = try reader.seconds("NANO_BANANA_LEASE") ?? leaseDuration
        maxAttempts = try reader.integer("NANO_BANANA_MAX_ATTEMPTS", in: 1...100) ?? maxAttempts
    }

    /// Checks the combination of values; call after applying flags.
    public func validate() throws(ConfigurationError) {
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
        if let base = publicBaseURL, URL(string: base)?.host == nil {
            throw .invalid(
                name: "public URL", value: base, expected: "an absolute URL such as https://images.example.com")
        }
    }

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
