import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI
import Server
import ServiceLifecycle
import Store

/// `nano-banana serve`: the API, with workers unless `--no-workers`, on the embedded store
/// or a PostgreSQL cluster store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the API server with its worker pool, on the embedded store or a PostgreSQL one.",
        discussion: """
            Every option also has an environment variable (shown in brackets); a flag wins over \
            the variable. The Gemini API key is read from GEMINI_API_KEY only, never a flag. \
            With --store postgres://…, any number of `serve` and `worker` processes on any \
            machines share one queue.
            """
    )

    @Option(
        name: .setting(.host, short: "H"),
        help: ArgumentHelp("Interface to listen on. [NANO_BANANA_HOST] (default: 127.0.0.1)", valueName: "address"))
    var host: String?

    @Option(
        name: .setting(.port, short: "p"),
        help: ArgumentHelp("TCP port; 0 picks a free one. [NANO_BANANA_PORT] (default: 8080)", valueName: "port"))
    var port: String?

    @Flag(
        name: .setting(.noWorkers),
        help: "Serve the API only; `nano-banana worker` processes run the jobs. [NANO_BANANA_NO_WORKERS=1]")
    var noWorkers = false

    @Option(
        name: .setting(.publicURL),
        help: ArgumentHelp(
            "Base of the URLs the API returns, e.g. https://img.example.com. [NANO_BANANA_PUBLIC_URL]", valueName: "url"
        ))
    var publicURL: String?

    @Option(
        name: .setting(.syncTimeout),
        help: ArgumentHelp(
            "Seconds a v1 request waits before 504. [NANO_BANANA_SYNC_TIMEOUT] (default: 300)", valueName: "seconds"))
    var syncTimeout: String?

    @Option(
        name: .setting(.maxBodyBytes),
        help: ArgumentHelp(
            "Largest request body accepted (413 above). [NANO_BANANA_MAX_BODY_BYTES] (default: 67108864)",
            valueName: "bytes"))
    var maxBodyBytes: String?

    @Option(
        name: .setting(.prices),
        help: ArgumentHelp(
            "Credits a request of a resolution costs; repeatable. [NANO_BANANA_PRICES, comma-separated] (default: 512px=45, 1K=67, 2K=101, 4K=151)",
            valueName: "resolution=credits"))
    var prices: [String] = []

    @Option(
        name: .setting(.requestsPerMinute),
        help: ArgumentHelp(
            "Requests per minute for keys without their own; 0: no limit. [NANO_BANANA_RPM] (default: 0)",
            valueName: "n"))
    var rpm: String?

    @Option(
        name: .setting(.burst),
        help: ArgumentHelp(
            "Requests in a burst above that rate; 0: a sixth of it. [NANO_BANANA_BURST] (default: 0)", valueName: "n"))
    var burst: String?

    @Option(
        name: .setting(.maxInFlight),
        help: ArgumentHelp(
            "QUEUED + PROCESSING requests at once for keys without their own; 0: no limit. [NANO_BANANA_MAX_IN_FLIGHT] (default: 0)",
            valueName: "n"))
    var maxInFlight: String?

    @Option(
        name: .setting(.maxQueue),
        help: ArgumentHelp(
            "QUEUED requests accepted before submits get 429; 0: no limit. [NANO_BANANA_MAX_QUEUE] (default: 10000)",
            valueName: "n"))
    var maxQueue: String?

    @Option(
        name: .setting(.maxQueuedBytesPerKey),
        help: ArgumentHelp(
            "Bytes of parameters (inline reference images included) one key's QUEUED requests may hold before its submits get 429; 0: no limit. [NANO_BANANA_MAX_QUEUED_BYTES_PER_KEY] (default: 268435456, 256 MiB)",
            valueName: "bytes"))
    var maxQueuedBytesPerKey: String?

    @Option(
        name: .setting(.uploadQuota),
        help: ArgumentHelp(
            "Bytes of uploads (POST /upload-asset) one key may hold until the retention deletes them; 0: no limit. [NANO_BANANA_UPLOAD_QUOTA] (default: 1073741824, 1 GiB)",
            valueName: "bytes"))
    var uploadQuota: String?

    @OptionGroup(title: "Connections") var connections: ServerConnectionOptions

    @OptionGroup var node: NodeOptions

    func run() async throws {
        var configuration = try node.configuration { values in
            values.override(.host, with: host)
            values.override(.port, with: port)
            values.override(.noWorkers, with: noWorkers)
            values.override(.publicURL, with: publicURL)
            values.override(.syncTimeout, with: syncTimeout)
            values.override(.maxBodyBytes, with: maxBodyBytes)
            values.override(.prices, with: prices)
            values.override(.requestsPerMinute, with: rpm)
            values.override(.burst, with: burst)
            values.override(.maxInFlight, with: maxInFlight)
            values.override(.maxQueue, with: maxQueue)
            values.override(.maxQueuedBytesPerKey, with: maxQueuedBytesPerKey)
            values.override(.uploadQuota, with: uploadQuota)
            connections.override(&values)
        }
        if let metricsPort = configuration.metricsPort, metricsPort != 0, metricsPort == configuration.port {
            throw ValidationError("--metrics-port must differ from --port (both \(metricsPort)).")
        }
        if !configuration.runsWorkers {
            guard configuration.storeURL != nil else {
                throw ValidationError(
                    "--no-workers needs a shared store (--store postgres://…) that `nano-banana worker` nodes also use; with the embedded store nothing else could run the jobs."
                )
            }
            configuration.workers = 0
        }
        let logger = node.logger(configuration)
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
            // The herald comes last, so that it hears of a SIGTERM first (see ShutdownHerald).
            let group = ServiceGroup(
                configuration: .init(
                    services: [app, ShutdownHerald(components)], gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            try await group.run()
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
