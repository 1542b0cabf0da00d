import Foundation
import Store
import Testing

@testable import Server

/// The one reader of settings: environment variables, flags over them, each value checked
/// once, errors naming what the operator typed.
@Suite("Configuration from flags and environment")
struct ConfigurationTests {
    private func configuration(
        environment: [String: String] = [:], flags: (inout ConfigurationValues) -> Void = { _ in }
    ) throws(ConfigurationError) -> ServerConfiguration {
        var values = ConfigurationValues(environment: environment)
        flags(&values)
        return try ServerConfiguration(values: values)
    }

    /// The error's sentence, or `nil` when the values are accepted.
    private func error(
        environment: [String: String] = [:], flags: (inout ConfigurationValues) -> Void = { _ in }
    ) -> String? {
        do {
            _ = try configuration(environment: environment, flags: flags)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("nothing set gives the documented defaults")
    func defaults() throws {
        let configuration = try configuration()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.dataDirectory == "./data")
        #expect(configuration.storeURL == nil)
        #expect(configuration.runsWorkers)
        #expect(configuration.retention == 3600)
        #expect(configuration.sweepInterval == 60)
        #expect(configuration.drainTimeout == 10)
        #expect(configuration.maxAttempts == 3)
        #expect(configuration.resolvedEngine == .preview)
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .text)
        #expect(configuration.prices[.oneK] == 67)
        #expect(configuration.limits.maxQueueLength == 10_000)
        #expect(configuration.limits.maxQueuedBytes == 256 * 1024 * 1024)
    }

    @Test("every variable is read, lists comma-separated, entries over the defaults")
    func environment() throws {
        let configuration = try configuration(environment: [
            "NANO_BANANA_HOST": "0.0.0.0", "NANO_BANANA_PORT": "9090", "NANO_BANANA_DATA_DIR": "/srv/nb",
            "NANO_BANANA_STORE": "postgres://nano@db.internal:5432/nb", "NANO_BANANA_NO_WORKERS": "yes",
            "NANO_BANANA_RETENTION": "120", "NANO_BANANA_WORKERS": "4", "NANO_BANANA_BLOCK_WORDS": "a, b,,c",
            "NANO_BANANA_PREVIEW_LATENCY": "0.5", "NANO_BANANA_ENGINE": "gemini", "GEMINI_API_KEY": " key ",
            "GEMINI_BASE_URL": "http://127.0.0.1:9/",
            "NANO_BANANA_MODELS": "nano-banana-pro=gemini-3-pro-image-preview",
            "NANO_BANANA_UPSTREAM_CONCURRENCY": "2", "NANO_BANANA_ALLOW_FETCH_HOSTS": "img.internal",
            "NANO_BANANA_RPM": "60", "NANO_BANANA_BURST": "5", "NANO_BANANA_MAX_IN_FLIGHT": "3",
            "NANO_BANANA_MAX_QUEUE": "50", "NANO_BANANA_MAX_QUEUED_BYTES_PER_KEY": "4096",
            "NANO_BANANA_PRICES": "1K=1, 4K=2",
            "NANO_BANANA_PUBLIC_URL": "https://x.example",
            "NANO_BANANA_SYNC_TIMEOUT": "30", "NANO_BANANA_JOB_TIMEOUT": "90", "NANO_BANANA_MAX_BODY_BYTES": "4096",
            "NANO_BANANA_LEASE": "7.5", "NANO_BANANA_MAX_ATTEMPTS": "9", "NANO_BANANA_SWEEP_INTERVAL": "15",
            "NANO_BANANA_DRAIN_TIMEOUT": "0", "LOG_LEVEL": "DEBUG", "NANO_BANANA_LOG_FORMAT": "JSON",
        ])
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 9090)
        #expect(configuration.dataDirectory == "/srv/nb")
        #expect(configuration.postgresLocation != nil)
        #expect(!configuration.runsWorkers)
        #expect(configuration.retention == 120)
        #expect(configuration.workers == 4)
        #expect(configuration.blockedWords == ["a", "b", "c"])
        #expect(configuration.previewLatency == 0.5)
        #expect(configuration.resolvedEngine == .gemini)
        #expect(configuration.geminiAPIKey == "key")
        #expect(configuration.geminiBaseURL == "http://127.0.0.1:9/")
        #expect(configuration.models["nano-banana-pro"] == "gemini-3-pro-image-preview")
        #expect(configuration.models["nano-banana-2"] == "gemini-3.1-flash-image-preview")
        #expect(configuration.upstreamConcurrency == 2)
        #expect(configuration.allowedFetchHosts == ["img.internal"])
        #expect(
            configuration.limits
                == SubmitLimits(perMinute: 60, burst: 5, maxInFlight: 3, maxQueueLength: 50, maxQueuedBytes: 4096))
        #expect(configuration.prices == [.px512: 45, .oneK: 1, .twoK: 101, .fourK: 2])
        #expect(configuration.publicBaseURL == "https://x.example")
        #expect(configuration.syncTimeout == 30)
        #expect(configuration.jobTimeout == 90)
        #expect(configuration.maxBodyBytes == 4096)
        #expect(configuration.leaseDuration == 7.5)
        #expect(configuration.maxAttempts == 9)
        #expect(configuration.sweepInterval == 15)
        #expect(configuration.drainTimeout == 0)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .json)
    }

    @Test("the log format is json or text, by flag or variable; anything else names the flag or variable used")
    func logFormat() throws {
        #expect(try configuration { $0.override(.logFormat, with: "json") }.logFormat == .json)
        #expect(
            try configuration(environment: ["NANO_BANANA_LOG_FORMAT": "json"]) {
                $0.override(.logFormat, with: "text")
            }.logFormat == .text)
        #expect(
            error { $0.override(.logFormat, with: "xml") } == "Invalid --log-format 'xml': expected json or text.")
        #expect(
            error(environment: ["NANO_BANANA_LOG_FORMAT": "logfmt"])
                == "Invalid NANO_BANANA_LOG_FORMAT 'logfmt': expected json or text.")
        let keys = try ServerConfiguration(
            storeFrom: ConfigurationValues(environment: ["NANO_BANANA_LOG_FORMAT": "json"]))
        #expect(keys.logFormat == .json)
    }

    @Test("a flag beats its variable, a repeatable flag replaces the variable's list, and unset flags keep it")
    func flagWins() throws {
        let environment = [
            "NANO_BANANA_PORT": "9090", "NANO_BANANA_MAX_ATTEMPTS": "0", "NANO_BANANA_BLOCK_WORDS": "a,b",
            "NANO_BANANA_RETENTION": "120",
        ]
        let configuration = try configuration(environment: environment) { values in
            values.override(.port, with: "0")
            values.override(.maxAttempts, with: "5")
            values.override(.blockWords, with: ["x,y"])
            values.override(.retention, with: nil)
            values.override(.allowFetchHosts, with: [])
            values.override(.noWorkers, with: false)
        }
        #expect(configuration.port == 0)
        #expect(configuration.maxAttempts == 5)
        #expect(configuration.blockedWords == ["x,y"])
        #expect(configuration.retention == 120)
        #expect(configuration.allowedFetchHosts == [])
        #expect(configuration.runsWorkers)
    }

    @Test("the sweep interval and the drain timeout are settable by flag and by variable")
    func sweepAndDrain() throws {
        let fromEnvironment = try configuration(environment: [
            "NANO_BANANA_SWEEP_INTERVAL": "5", "NANO_BANANA_DRAIN_TIMEOUT": "30",
        ])
        #expect(fromEnvironment.sweepInterval == 5)
        #expect(fromEnvironment.drainTimeout == 30)
        let fromFlags = try configuration(environment: ["NANO_BANANA_SWEEP_INTERVAL": "5"]) { values in
            values.override(.sweepInterval, with: "2.5")
            values.override(.drainTimeout, with: "0.5")
        }
        #expect(fromFlags.sweepInterval == 2.5)
        #expect(fromFlags.drainTimeout == 0.5)
        #expect(fromFlags.effectiveSweepInterval == 2.5)
    }

    @Test("the store's connection deadline is settable, and must be above zero")
    func storeTimeout() throws {
        #expect(try configuration(environment: [:]).storeTimeout == 5)
        #expect(try configuration(environment: ["NANO_BANANA_STORE_TIMEOUT": "30"]).storeTimeout == 30)
        let fromFlag = try configuration(environment: ["NANO_BANANA_STORE_TIMEOUT": "30"]) { values in
            values.override(.storeTimeout, with: "2")
        }
        #expect(fromFlag.storeTimeout == 2)
        #expect(throws: ConfigurationError.self) {
            try configuration(environment: ["NANO_BANANA_STORE_TIMEOUT": "0"])
        }
    }

    @Test(
        "each bad value is refused naming the variable and what was expected",
        arguments: [
            ("NANO_BANANA_PORT", "abc", "an integer in 0…65535"),
            ("NANO_BANANA_PORT", "65536", "an integer in 0…65535"),
            ("NANO_BANANA_PORT", "-1", "an integer in 0…65535"),
            ("NANO_BANANA_WORKERS", "1e308", "an integer in 1…1024"),
            ("NANO_BANANA_MAX_ATTEMPTS", "0", "an integer in 1…100"),
            ("NANO_BANANA_MAX_ATTEMPTS", "101", "an integer in 1…100"),
            ("NANO_BANANA_MAX_BODY_BYTES", "10", "an integer in 1024…2147483648"),
            ("NANO_BANANA_UPSTREAM_CONCURRENCY", "0", "an integer in 1…1024"),
            ("NANO_BANANA_RPM", "-5", "an integer in 0…1000000"),
            ("NANO_BANANA_MAX_QUEUE", "inf", "an integer in 0…100000000"),
            ("NANO_BANANA_BURST", "1000001", "an integer in 0…1000000"),
            ("NANO_BANANA_MAX_QUEUED_BYTES_PER_KEY", "-1", "an integer in 0…1099511627776"),
            ("NANO_BANANA_PRICES", "1K=1000000001", "0 to 1000000000 credits"),
            ("NANO_BANANA_PRICES", "1K=9223372036854775807", "0 to 1000000000 credits"),
            ("NANO_BANANA_RETENTION", "0", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_RETENTION", "-5", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_RETENTION", "inf", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_RETENTION", "nan", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_RETENTION", "1e308", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_SYNC_TIMEOUT", "0", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_JOB_TIMEOUT", "-inf", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_SWEEP_INTERVAL", "0", "a number of seconds above 0, at most 315360000"),
            ("NANO_BANANA_LEASE", "0.5", "a number of seconds from 1 to 315360000"),
            ("NANO_BANANA_PREVIEW_LATENCY", "-1", "a number of seconds from 0 to 315360000"),
            ("NANO_BANANA_DRAIN_TIMEOUT", "nan", "a number of seconds from 0 to 315360000"),
            ("NANO_BANANA_DRAIN_TIMEOUT", "1e308", "a number of seconds from 0 to 315360000"),
            ("NANO_BANANA_ENGINE", "turbo", "preview, gemini or null"),
            ("NANO_BANANA_MODELS", "pro", "slug=upstream-model-id"),
            ("NANO_BANANA_MODELS", "a/b=c", "slug=upstream-model-id"),
            ("NANO_BANANA_PRICES", "8K=1", "RESOLUTION=CREDITS (512px, 1K, 2K or 4K)"),
            ("NANO_BANANA_PRICES", "1K=-1", "RESOLUTION=CREDITS (512px, 1K, 2K or 4K)"),
            ("NANO_BANANA_STORE", "mysql://db/x", "postgres://USER[:PASSWORD]@HOST"),
            ("NANO_BANANA_PUBLIC_URL", "images", "an absolute URL"),
            ("GEMINI_BASE_URL", "not a url", "an absolute URL"),
            ("LOG_LEVEL", "loud", "trace, debug, info, notice, warning, error or critical"),
        ])
    func badVariable(variable: String, value: String, expected: String) throws {
        let message = try #require(error(environment: [variable: value]))
        #expect(message.hasPrefix("Invalid \(variable) '"), "\(message)")
        #expect(message.contains(expected), "\(message)")
    }

    @Test(
        "the same bad value from a flag is refused naming the flag",
        arguments: [
            (ConfigurationSetting.maxAttempts, "0", "Invalid --max-attempts '0': expected an integer in 1…100."),
            (.retention, "inf", "Invalid --retention 'inf': expected a number of seconds above 0, at most 315360000."),
            (.drainTimeout, "-1", "Invalid --drain-timeout '-1': expected a number of seconds from 0 to 315360000."),
            (
                .sweepInterval, "nan",
                "Invalid --sweep-interval 'nan': expected a number of seconds above 0, at most 315360000."
            ),
            (.engine, "turbo", "Invalid --engine 'turbo': expected preview, gemini or null."),
            (.port, "1e308", "Invalid --port '1e308': expected an integer in 0…65535."),
            (.port, "70000", "Invalid --port '70000': expected an integer in 0…65535."),
            // No workers is --no-workers (with a shared store); 0 used to end in a ServiceGroupError.
            (.workers, "0", "Invalid --workers '0': expected an integer in 1…1024."),
            (
                .jobTimeout, "1e300",
                "Invalid --job-timeout '1e300': expected a number of seconds above 0, at most 315360000."
            ),
            (
                .maxQueuedBytesPerKey, "lots",
                "Invalid --max-queued-bytes-per-key 'lots': expected an integer in 0…1099511627776."
            ),
        ])
    func badFlag(setting: ConfigurationSetting, value: String, expected: String) {
        // The variable holds a good value: the flag's bad one is the one refused.
        let message = error(environment: [setting.variable: "1"]) { $0.override(setting, with: value) }
        #expect(message == expected)
    }

    @Test("connection timeouts and the cap have defaults, and are read from flags and variables")
    func connections() throws {
        let defaults = try configuration(environment: [:]).connections
        #expect(defaults.idleTimeout == 60)
        #expect(defaults.headerTimeout == 10)
        #expect(defaults.bodyReadTimeout == 30)
        #expect(defaults.writeTimeout == 30)
        #expect(defaults.maxConnections == min(8192, ConnectionLimits.mostConnections))
        let read = try configuration(environment: [
            "NANO_BANANA_IDLE_TIMEOUT": "5", "NANO_BANANA_MAX_CONNECTIONS": "100",
        ]) {
            $0.override(.headerTimeout, with: "2.5")
            $0.override(.bodyReadTimeout, with: "7")
            $0.override(.writeTimeout, with: "9")
        }.connections
        #expect(read.idleTimeout == 5)
        #expect(read.headerTimeout == 2.5)
        #expect(read.bodyReadTimeout == 7)
        #expect(read.writeTimeout == 9)
        #expect(read.maxConnections == 100)
    }

    @Test(
        "a bad connection setting is refused naming its flag and range",
        arguments: [
            (ConfigurationSetting.idleTimeout, "0", "Invalid --idle-timeout '0': expected a number of seconds above 0"),
            (.headerTimeout, "inf", "Invalid --header-timeout 'inf': expected a number of seconds above 0"),
            (.bodyReadTimeout, "-1", "Invalid --body-timeout '-1': expected a number of seconds above 0"),
            (.writeTimeout, "soon", "Invalid --write-timeout 'soon': expected a number of seconds above 0"),
            (.maxConnections, "0", "Invalid --max-connections '0': expected an integer in 1…"),
            (.maxConnections, "100000000", "Invalid --max-connections '100000000': expected an integer in 1…"),
        ])
    func badConnectionSetting(setting: ConfigurationSetting, value: String, expected: String) {
        let message = error { $0.override(setting, with: value) }
        #expect(message?.hasPrefix(expected) == true, "\(message ?? "accepted")")
    }

    @Test("a repeatable flag's bad entry is refused naming the flag")
    func badRepeatedFlag() {
        let message = error { $0.override(.models, with: ["nano-banana-pro=gemini-3-pro-image-preview", "oops"]) }
        #expect(message?.hasPrefix("Invalid --model 'oops'") == true)
    }

    @Test("a store URL's password never appears in its error")
    func storeURLRedacted() throws {
        let message = try #require(error(environment: ["NANO_BANANA_STORE": "postgres://u:hunter2@db/x?sslmode=maybe"]))
        #expect(!message.contains("hunter2"))
        #expect(message.hasPrefix("Invalid NANO_BANANA_STORE"))
    }

    @Test("empty values count as unset; NANO_BANANA_NO_WORKERS is on only for 1, true or yes")
    func emptyAndBooleans() throws {
        let empty = try configuration(environment: ["NANO_BANANA_PORT": "  ", "NANO_BANANA_STORE": ""])
        #expect(empty.port == 8080)
        #expect(empty.storeURL == nil)
        for (value, runs) in [("1", false), ("true", false), ("yes", false), ("0", true), ("no", true)] {
            #expect(try configuration(environment: ["NANO_BANANA_NO_WORKERS": value]).runsWorkers == runs)
        }
        #expect(try configuration { $0.override(.noWorkers, with: true) }.runsWorkers == false)
    }

    @Test("the gemini engine without an API key is refused, across the two settings")
    func geminiNeedsKey() {
        #expect(
            error(environment: ["NANO_BANANA_ENGINE": "gemini"])
                == "Invalid engine 'gemini': expected GEMINI_API_KEY to be set.")
        #expect(error(environment: ["NANO_BANANA_ENGINE": "gemini", "GEMINI_API_KEY": "k"]) == nil)
    }

    @Test("`keys` reads only the store settings and is not tripped by the others")
    func storeOnly() throws {
        var values = ConfigurationValues(environment: ["NANO_BANANA_PORT": "abc", "NANO_BANANA_DATA_DIR": "/srv/nb"])
        values.override(.store, with: "postgres://nano@db:5432/nb")
        let configuration = try ServerConfiguration(storeFrom: values)
        #expect(configuration.dataDirectory == "/srv/nb")
        #expect(configuration.postgresLocation != nil)
        values.override(.store, with: "mysql://db/nb")
        #expect(throws: ConfigurationError.self) { try ServerConfiguration(storeFrom: values) }
    }

    @Test("every setting but the Gemini key has a flag, and no two share a flag or a variable")
    func settingsTable() {
        let flags = ConfigurationSetting.allCases.compactMap(\.flag)
        #expect(flags.count == ConfigurationSetting.allCases.count - 1)
        #expect(ConfigurationSetting.geminiAPIKey.flag == nil)
        #expect(Set(flags).count == flags.count)
        #expect(Set(ConfigurationSetting.allCases.map(\.variable)).count == ConfigurationSetting.allCases.count)
    }
}
