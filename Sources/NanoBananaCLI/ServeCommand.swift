import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI
import Server
import Store

/// `nano-banana serve`: API, workers and the embedded store in one process.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the API server with its worker pool and the embedded store.",
        discussion: """
            Every option also has an environment variable (shown in brackets); a flag wins over \
            the variable.
            """
    )

    @Option(name: [.customShort("H"), .long], help: "Interface to listen on. [NANO_BANANA_HOST] (default: 127.0.0.1)")
    var host: String?

    @Option(name: .shortAndLong, help: "TCP port; 0 picks a free one. [NANO_BANANA_PORT] (default: 8080)")
    var port: Int?

    @Option(name: .long, help: "Where the database and images live. [NANO_BANANA_DATA_DIR] (default: ./data)")
    var dataDir: String?

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

    @Option(
        name: .long, help: "Base of the URLs the API returns, e.g. https://img.example.com. [NANO_BANANA_PUBLIC_URL]")
    var publicURL: String?

    @Option(name: .long, help: "Seconds a v1 request waits before 504. [NANO_BANANA_SYNC_TIMEOUT] (default: 300)")
    var syncTimeout: Double?

    @Option(name: .long, help: "Seconds one job may run before it fails. [NANO_BANANA_JOB_TIMEOUT] (default: 600)")
    var jobTimeout: Double?

    @Option(
        name: .customLong("allow-fetch-host"),
        help:
            "A host whose http(s) reference images may be fetched although it is private; repeatable. [NANO_BANANA_ALLOW_FETCH_HOSTS]"
    )
    var allowFetchHosts: [String] = []

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error. [LOG_LEVEL] (default: info)")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration(environment: environment)
        } catch {
            throw ValidationError(error.description)
        }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let dataDir { configuration.dataDirectory = dataDir }
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
        if let publicURL { configuration.publicBaseURL = publicURL }
        if !allowFetchHosts.isEmpty { configuration.allowedFetchHosts = allowFetchHosts }
        for entry in modelEntries {
            do {
                let (slug, model) = try ServerConfiguration.parseModelEntry(entry, source: "--model")
                configuration.models[slug] = model
            } catch {
                throw ValidationError(error.description)
            }
        }
        if let syncTimeout { configuration.syncTimeout = syncTimeout }
        if let jobTimeout { configuration.jobTimeout = jobTimeout }
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.description)
        }

        var logger = Logger(label: "nano-banana")
        logger.logLevel = Logger.Level(rawValue: logLevel ?? environment["LOG_LEVEL"] ?? "info") ?? .info

        let components = try ServerComponents(configuration: configuration)
        if configuration.engine == nil && configuration.resolvedEngine == .preview {
            logger.notice(
                "GEMINI_API_KEY is not set: serving with the offline preview engine (results say \"engine\": \"preview\")."
            )
        }
        logger.info(
            "Starting",
            metadata: [
                "engine": "\(components.engineName)", "models": "\(components.modelSlugs.joined(separator: ","))",
                "data_dir": "\(configuration.dataDirectory)",
                "workers": "\(configuration.workers)",
            ])
        if try await components.keys.count() == 0 {
            let created = try await components.keys.create(name: "default")
            FirstRunBanner(secret: created.secret, host: configuration.host, port: configuration.port).print()
        }
        let app = try await buildApplication(components, logger: logger)
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ServeError.portInUse(host: configuration.host, port: configuration.port)
        }
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
