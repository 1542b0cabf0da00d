import Engines
import Foundation
import Logging
import NanoBananaAPI
import Store

extension ServerConfiguration {
    /// Reads every setting from `values`: each is checked here, once, whether it came from
    /// a flag or a variable, and an error names the one the operator used. Unset settings
    /// keep the defaults. Ends with ``validate()``, the checks across settings.
    public init(values: ConfigurationValues) throws(ConfigurationError) {
        self.init()
        let read = SettingReader(values: values)
        try readStore(read)
        host = read.string(.host) ?? host
        port = try read.integer(.port, in: 0...65535) ?? port
        if let value = read.string(.noWorkers) { runsWorkers = !["1", "true", "yes"].contains(value) }
        publicBaseURL = try read.absoluteURL(.publicURL, example: "https://images.example.com") ?? publicBaseURL
        syncTimeout = try read.seconds(.syncTimeout, from: .aboveZero) ?? syncTimeout
        maxBodyBytes = try read.integer(.maxBodyBytes, in: 1024...(1 << 31)) ?? maxBodyBytes
        try readConnections(read)

        retention = try read.seconds(.retention, from: .aboveZero) ?? retention
        sweepInterval = try read.seconds(.sweepInterval, from: .aboveZero) ?? sweepInterval
        workers = try read.integer(.workers, in: 1...1024) ?? workers
        jobTimeout = try read.seconds(.jobTimeout, from: .aboveZero) ?? jobTimeout
        leaseDuration = try read.seconds(.lease, from: .one) ?? leaseDuration
        maxAttempts = try read.integer(.maxAttempts, in: 1...100) ?? maxAttempts
        drainTimeout = try read.seconds(.drainTimeout, from: .zero) ?? drainTimeout
        storeTimeout = try read.seconds(.storeTimeout, from: .aboveZero) ?? storeTimeout
        metricsPort = try read.integer(.metricsPort, in: 0...65535) ?? metricsPort

        if let name = read.string(.engine) {
            guard let kind = EngineKind(rawValue: name) else {
                throw read.invalid(.engine, name, expected: "preview, gemini or null")
            }
            engine = kind
        }
        blockedWords = read.list(.blockWords) ?? blockedWords
        previewLatency = try read.seconds(.previewLatency, from: .zero) ?? previewLatency
        geminiAPIKey = read.string(.geminiAPIKey)
        geminiBaseURL =
            try read.absoluteURL(.geminiBaseURL, example: "https://generativelanguage.googleapis.com")
            ?? geminiBaseURL
        let modelEntries = try read.pairs(
            .models, expected: "slug=upstream-model-id, e.g. nano-banana-pro=gemini-3-pro-image-preview"
        ) { slug, model in
            slug.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" } ? (slug, model) : nil
        }
        for (slug, model) in modelEntries { models[slug] = model }
        upstreamConcurrency = try read.integer(.upstreamConcurrency, in: 1...1024) ?? upstreamConcurrency
        allowedFetchHosts = try read.hosts(.allowFetchHosts, example: "img.internal:8443") ?? allowedFetchHosts
        try readWebhooks(read)

        // The same maximum as a key's own limits (`keys create --rpm …`).
        let keyLimit = 0...StoreMaxima.limit
        limits.perMinute = try read.integer(.requestsPerMinute, in: keyLimit) ?? limits.perMinute
        limits.burst = try read.integer(.burst, in: keyLimit) ?? limits.burst
        limits.maxInFlight = try read.integer(.maxInFlight, in: keyLimit) ?? limits.maxInFlight
        limits.maxQueueLength = try read.integer(.maxQueue, in: 0...100_000_000) ?? limits.maxQueueLength
        limits.maxQueuedBytes =
            try read.integer(.maxQueuedBytesPerKey, in: 0...(1 << 40)) ?? limits.maxQueuedBytes
        uploadQuota = try read.integer(.uploadQuota, in: 0...(1 << 50)) ?? uploadQuota
        let priceEntries = try read.pairs(
            .prices, expected: "RESOLUTION=CREDITS (512px, 1K, 2K or 4K), 0 to \(StoreMaxima.price) credits, e.g. 1K=67"
        ) { (resolution: String, credits: String) -> (OutputResolution, Int)? in
            guard let resolution = OutputResolution(rawValue: resolution), let price = Int(credits),
                (0...StoreMaxima.price).contains(price)
            else { return nil }
            return (resolution, price)
        }
        for (resolution, price) in priceEntries { prices[resolution] = price }
        if let name = read.string(.logLevel) {
            guard let level = Logger.Level(rawValue: name.lowercased()) else {
                throw read.invalid(.logLevel, name, expected: "trace, debug, info, notice, warning, error or critical")
            }
            logLevel = level
        }
        try readLogFormat(read)
        try validate()
    }

    /// Reads where the store is and how to log, and nothing else: for `nano-banana keys`,
    /// which shares these settings with `serve` and should not trip over the others.
    public init(storeFrom values: ConfigurationValues) throws(ConfigurationError) {
        self.init()
        let read = SettingReader(values: values)
        try readStore(read)
        try readLogFormat(read)
    }

    private mutating func readLogFormat(_ read: SettingReader) throws(ConfigurationError) {
        guard let name = read.string(.logFormat) else { return }
        guard let format = LogFormat(rawValue: name.lowercased()) else {
            throw read.invalid(.logFormat, name, expected: "json or text")
        }
        logFormat = format
    }

    private mutating func readWebhooks(_ read: SettingReader) throws(ConfigurationError) {
        allowedWebhookHosts = try read.hosts(.allowWebhookHosts, example: "hooks.internal:9000") ?? allowedWebhookHosts
        if let text = read.string(.webhookRetrySchedule) {
            guard let schedule = WebhookRetryPolicy.parseSchedule(text) else {
                throw read.invalid(
                    .webhookRetrySchedule, text,
                    expected:
                        "delays separated by commas, each a positive number with s, m, h or d (at most 30d), e.g. 5s,5m,30m,2h"
                )
            }
            webhookRetry.schedule = schedule
        }
        if let timeout = try read.seconds(.webhookTimeout, from: .aboveZero) {
            guard timeout <= 300 else {
                throw read.invalid(.webhookTimeout, "\(timeout)", expected: "a number of seconds above 0, at most 300")
            }
            webhookRetry.timeout = timeout
        }
    }

    private mutating func readConnections(_ read: SettingReader) throws(ConfigurationError) {
        connections.idleTimeout = try read.seconds(.idleTimeout, from: .aboveZero) ?? connections.idleTimeout
        connections.headerTimeout = try read.seconds(.headerTimeout, from: .aboveZero) ?? connections.headerTimeout
        connections.bodyReadTimeout =
            try read.seconds(.bodyReadTimeout, from: .aboveZero) ?? connections.bodyReadTimeout
        connections.writeTimeout = try read.seconds(.writeTimeout, from: .aboveZero) ?? connections.writeTimeout
        connections.maxConnections =
            try read.integer(.maxConnections, in: 1...ConnectionLimits.mostConnections) ?? connections.maxConnections
    }

    private mutating func readStore(_ read: SettingReader) throws(ConfigurationError) {
        dataDirectory = read.string(.dataDirectory) ?? dataDirectory
        guard let url = read.string(.store) else { return }
        do {
            _ = try PostgresLocation(url: url)
        } catch {
            throw read.invalid(
                .store, PostgresLocation.redacted(url),
                expected: "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&schema=…] (\(error.problem))")
        }
        storeURL = url
    }
}

/// The smallest a number of seconds may be.
private enum LeastSeconds {
    case zero, aboveZero, one
}

/// Reads typed values out of ``ConfigurationValues``, each kind checked one way.
private struct SettingReader {
    let values: ConfigurationValues

    /// At most ten years, for every number of seconds: beyond any sensible setting, and far
    /// inside what `Duration`, `Date` and `Int(_:)` hold (`inf` or `1e308` would trap there).
    static let maxSeconds: TimeInterval = 315_360_000

    func invalid(_ setting: ConfigurationSetting, _ value: String, expected: String) -> ConfigurationError {
        .invalid(name: values.name(of: setting), value: value, expected: expected)
    }

    /// The value, trimmed; empty counts as unset.
    func string(_ setting: ConfigurationSetting) -> String? {
        guard let text = values[setting]?.texts.last?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return nil
        }
        return text
    }

    /// A repeatable flag's values, or a variable's comma-separated ones, trimmed, empty ones
    /// dropped; `nil` when unset.
    func list(_ setting: ConfigurationSetting) -> [String]? {
        guard let value = values[setting] else { return nil }
        let items: [String]
        if value.isFlag {
            items = value.texts
        } else {
            guard let text = string(setting) else { return nil }
            items = text.split(separator: ",").map(String.init)
        }
        return items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func integer(_ setting: ConfigurationSetting, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = string(setting) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw invalid(setting, text, expected: "an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func seconds(_ setting: ConfigurationSetting, from least: LeastSeconds) throws(ConfigurationError) -> TimeInterval?
    {
        guard let text = string(setting) else { return nil }
        let most = Int(Self.maxSeconds)
        let (lowest, expected): (TimeInterval, String) =
            switch least {
            case .zero: (0, "a number of seconds from 0 to \(most)")
            case .aboveZero: (.leastNonzeroMagnitude, "a number of seconds above 0, at most \(most)")
            case .one: (1, "a number of seconds from 1 to \(most)")
            }
        guard let value = TimeInterval(text), value.isFinite, value >= lowest, value <= Self.maxSeconds else {
            throw invalid(setting, text, expected: expected)
        }
        return value
    }

    /// Allow-list entries (``AllowedHost``), from a repeatable flag or a comma-separated variable.
    func hosts(_ setting: ConfigurationSetting, example: String) throws(ConfigurationError) -> [AllowedHost]? {
        try list(setting)?.map { (entry: String) throws(ConfigurationError) in
            guard let host = AllowedHost(parsing: entry) else {
                throw invalid(setting, entry, expected: "HOST or HOST:PORT (port 1…65535), e.g. \(example)")
            }
            return host
        }
    }

    func absoluteURL(_ setting: ConfigurationSetting, example: String) throws(ConfigurationError) -> String? {
        guard let text = string(setting) else { return nil }
        guard URL(string: text)?.host != nil else {
            throw invalid(setting, text, expected: "an absolute URL such as \(example)")
        }
        return text
    }

    /// `NAME=VALUE` entries, each turned into a pair by `make` (`nil`: not a valid one).
    func pairs<Name, Value>(
        _ setting: ConfigurationSetting, expected: String, _ make: (String, String) -> (Name, Value)?
    ) throws(ConfigurationError) -> [(Name, Value)] {
        var pairs: [(Name, Value)] = []
        for entry in list(setting) ?? [] {
            let sides = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty, let pair = make(sides[0], sides[1]) else {
                throw invalid(setting, entry, expected: expected)
            }
            pairs.append(pair)
        }
        return pairs
    }
}
