import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI
import Server
import Store

/// `nano-banana serve`: the API, with workers unless `--no-workers`, on the embedded store
/// or a PostgreSQL cluster store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the API server with its worker pool, on the embedded store or a PostgreSQL one.",
        discussion: """
            Every option also has an environment variable (shown in brackets); a flag wins over \
            the variable. With --store postgres://…, any number of `serve` and `worker` \
            processes on any machines share one queue.
            """
    )

    @Option(name: [.customShort("H"), .long], help: "Interface to listen on. [NANO_BANANA_HOST] (default: 127.0.0.1)")
    var host: String?

    @Option(name: .shortAndLong, help: "TCP port; 0 picks a free one. [NANO_BANANA_PORT] (default: 8080)")
    var port: Int?

    @Flag(
        name: .long,
        help: "Serve the API only; `nano-banana worker` processes run the jobs. [NANO_BANANA_NO_WORKERS=1]")
    var noWorkers = false

    @Option(
        name: .long, help: "Base of the URLs the API returns, e.g. https://img.example.com. [NANO_BANANA_PUBLIC_URL]")
    var publicURL: String?

    @Option(name: .long, help: "Seconds a v1 request waits before 504. [NANO_BANANA_SYNC_TIMEOUT] (default: 300)")
    var syncTimeout: Double?

    @OptionGroup var node: NodeOptions

    func run() async throws {
        var configuration = try node.configuration { configuration in
            if let host { configuration.host = host }
            if let port { configuration.port = port }
            if noWorkers { configuration.runsWorkers = false }
            if let publicURL { configuration.publicBaseURL = publicURL }
            if let syncTimeout { configuration.syncTimeout = syncTimeout }
        }
        if !configuration.runsWorkers {
            guard configuration.storeURL != nil else {
                throw ValidationError(
                    "--no-workers needs a shared store (--store postgres://…) that `nano-banana worker` nodes also use; with the embedded store nothing else could run the jobs."
                )
            }
            configuration.workers = 0
        }
        let logger = node.logger()
        let components = try await node.openComponents(configuration, logger: logger)
        logger.info(
            "Starting",
            metadata: [
                "engine": "\(components.engineName)", "models": "\(components.modelSlugs.joined(separator: ","))",
                "store": "\(node.storeDescription(configuration))",
                "workers": "\(configuration.runsWorkers ? configuration.workers : 0)",
            ])
        let keys = components.keys
        let (bannerHost, bannerPort) = (configuration.host, configuration.port)
        let app = try await buildApplication(components, logger: logger) {
            if let created = try await keys.createFirstKey(name: "default") {
                FirstRunBanner(secret: created.secret, host: bannerHost, port: bannerPort).print()
            }
        }
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ServeError.portInUse(host: configuration.host, port: configuration.port)
        }
    }
}

/// The options every node has, whether it serves the API (`serve`) or only runs jobs
/// (`worker`): where the store is, and how jobs are run.
struct NodeOptions: ParsableArguments {
    @Option(name: .long, help: "Where the database and images live. [NANO_BANANA_DATA_DIR] (default: ./data)")
    var dataDir: String?

    @Option(
        name: .long,
        help:
            "A PostgreSQL store shared by many nodes: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&schema=…]. [NANO_BANANA_STORE] (default: SQLite in --data-dir)"
    )
    var store: String?

    @Option(name: .long, help: "Seconds results are kept. [NANO_BANANA_RETENTION] (default: 3600)")
    var retention: Double?

    @Option(name: .long, help: "Jobs run at once. [NANO_BANANA_WORKERS] (default: number of cores)")
    var workers: Int?

    @Option(
        name: .customLong("block-word"),
        help: "A prompt word that fails jobs as a content block; repeatable. [NANO_BANANA_BLOCK_WORDS, comma-separated]"
    )
    var blockWords: [String] = []

    @Option(
        name: .long, help: "Simulated seconds of preview-engine latency. [NANO_BANANA_PREVIEW_LATENCY] (default: 0)")
    var previewLatency: Double?

    @Option(
        name: .long,
        help:
            "Engine: preview, gemini or null. [NANO_BANANA_ENGINE] (default: gemini when GEMINI_API_KEY is set, else preview)"
    )
    var engine: String?

    @Option(
        name: .customLong("model"),
        help:
            "Serve another slug with an upstream Gemini model: SLUG=MODEL_ID; repeatable. [NANO_BANANA_MODELS, comma-separated]"
    )
    var modelEntries: [String] = []

    @Option(name: .long, help: "Seconds one job may run before it fails. [NANO_BANANA_JOB_TIMEOUT] (default: 600)")
    var jobTimeout: Double?

    @Option(
        name: .long,
        help: "Seconds a worker's claim on a job lasts between heartbeats. [NANO_BANANA_LEASE] (default: 30)")
    var lease: Double?

    @Option(
        name: .long, help: "Claims before a job whose workers keep dying FAILS. [NANO_BANANA_MAX_ATTEMPTS] (default: 3)"
    )
    var maxAttempts: Int?

    @Option(
        name: .customLong("allow-fetch-host"),
        help:
            "A host whose http(s) reference images may be fetched although it is private; repeatable. [NANO_BANANA_ALLOW_FETCH_HOSTS]"
    )
    var allowFetchHosts: [String] = []

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error. [LOG_LEVEL] (default: info)")
    var logLevel: String?

    /// The environment, then these flags, then the command's own (`adjust`), validated.
    func configuration(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) throws -> ServerConfiguration {
        var configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let store { configuration.storeURL = store }
        if let retention { configuration.retention = retention }
        if let workers { configuration.workers = workers }
        if !blockWords.isEmpty { configuration.blockedWords = blockWords }
        if let previewLatency { configuration.previewLatency = previewLatency }
        if let engine {
            guard let kind = ServerConfiguration.EngineKind(rawValue: engine) else {
                throw ValidationError("Unknown engine '\(engine)': use preview, gemini or null.")
            }
            configuration.engine = kind
        }
        if !allowFetchHosts.isEmpty { configuration.allowedFetchHosts = allowFetchHosts }
        for entry in modelEntries {
            do {
                let (slug, model) = try ServerConfiguration.parseModelEntry(entry, source: "--model")
                configuration.models[slug] = model
            } catch {
                throw ValidationError(error.description)
            }
        }
        if let jobTimeout { configuration.jobTimeout = jobTimeout }
        if let lease { configuration.leaseDuration = lease }
        if let maxAttempts {
            guard (1...100).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1 to 100.") }
            configuration.maxAttempts = maxAttempts
        }
        adjust(&configuration)
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return configuration
    }

    func logger() -> Logger {
        var logger = Logger(label: "nano-banana")
        logger.logLevel =
            Logger.Level(rawValue: logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info") ?? .info
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

/// What a first run prints once: the new key and the two lines to try it.
struct FirstRunBanner {
    let secret: String
    let host: String
    let port: Int

    func print() {
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        let text = """

            ── nano-banana: first run ─────────────────────────────────────────────
            Created an API key (shown only this once; it is stored hashed):

                \(secret)

            Try it:

                export SEGMIND_API_KEY=\(secret)
                curl -H "x-api-key: $SEGMIND_API_KEY" -H "content-type: application/json" \\
                     -d '{"prompt":"a gold leaf sign that says \\u0027MEXITALY\\u0027"}' \\
                     \(base)/v1/nano-banana-2 -o out.jpg

                python3 -c 'import segmind; c = segmind.SegmindClient(base_url="\(base)/v1"); \\
                    print(c.run("nano-banana-2", prompt="a sign that says \\"hello\\"")["output"])'

            More keys: swift run nano-banana keys create --name NAME
            ───────────────────────────────────────────────────────────────────────

            """
        // Written straight to the file descriptor: stdout may be a pipe, and the banner must
        // not sit in a buffer while the server runs.
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// Why `serve` could not start, said plainly.
enum ServeError: Error, CustomStringConvertible {
    case portInUse(host: String, port: Int)

    var description: String {
        switch self {
        case .portInUse(let host, let port):
            "\(host):\(port) is already in use. Stop whatever listens there, or pick another --port."
        }
    }
}
