import AsyncHTTPClient
import Engines
import Foundation
import Logging
import Metrics
import NIOPosix
import NanoBananaAPI
import Store

/// The long-lived parts of a server process, made once from its configuration: stores,
/// engines and the signals between the API and the workers. Making them starts nothing and
/// reaches no database (only the embedded store's file is opened and locked); the node's
/// services start them (``buildServices(_:logger:whenPrepared:)``), and the store is
/// prepared by its ``StartupService`` once its own services run. Tests build one over a
/// temp directory and reach into its stores.
public struct ServerComponents: Sendable {
    public let configuration: ServerConfiguration
    /// Where jobs, keys and images live.
    let backend: any StoreBackend
    /// The backend's stores, each operation timed for the metrics.
    public let jobs: any JobStore
    public let keys: any APIKeyStore
    /// This instance's metrics, apart from any other server's in the process.
    public let metrics: ServerMetrics
    let jobInstruments: JobInstruments
    /// The port of the `--metrics-port` listener, once it listens.
    public let metricsPort = BoundPort()
    public let clock: any WallClock
    /// What the routes read jobs through: finished ones from memory.
    let finished: FinishedJobCache
    /// What requests authenticate through: recent answers from memory.
    let authenticator: APIKeyCache
    let models: ModelCatalog
    /// Loaded with the store's secret when the node starts.
    let signer = OutputURLSigner()
    let signal = WorkSignal()
    let hub = CompletionHub()
    /// Opens once the store is prepared; the node's services and its HTTP server wait for it.
    let started = Latch()
    /// The HTTP server's open connections, against the configured cap.
    let connections: ConnectionCount
    /// Where CPU-heavy rendering and encoding run, away from the event loops.
    let renderPool: NIOThreadPool
    /// The client that fetches http(s) reference images (it never follows redirects on its
    /// own: the fetcher checks every hop).
    let fetchClient: HTTPClient

    /// Opens the store (the data directory's SQLite database, or a PostgreSQL cluster
    /// store, reached once the node runs) and makes the engines.
    ///
    /// - Parameters:
    ///   - engine: an engine to use instead of the configured one (tests).
    public init(
        configuration: ServerConfiguration, clock: any WallClock = SystemWallClock(), engine: (any ImageEngine)? = nil,
        logger: Logger = Logger(label: "nano-banana")
    ) async throws {
        try configuration.validate()
        self.configuration = configuration
        let metrics = ServerMetrics()
        self.metrics = metrics
        self.clock = clock
        connections = ConnectionCount(limit: configuration.connections.maxConnections)
        if let url = configuration.storeURL {
            // Parsed again, not through `postgresLocation`: a configuration built in code may
            // hold a bad URL, which must not quietly mean the embedded store.
            let location = try PostgresLocation(url: url)
            backend = PostgresBackend(
                location: location, maxConnections: max(20, configuration.workers * 2 + 8),
                operationTimeout: configuration.storeTimeout, clock: clock,
                logger: logger)
        } else {
            backend = try SQLiteBackend(
                directory: URL(fileURLWithPath: configuration.dataDirectory, isDirectory: true), clock: clock,
                logger: logger)
        }
        let timers = StoreTimers(store: backend.kind, factory: metrics.factory)
        jobs = MeasuredJobStore(base: backend.jobs, timers: timers)
        keys = MeasuredAPIKeyStore(base: backend.keys, timers: timers)
        backend.observe(into: metrics)
        finished = FinishedJobCache(jobs)
        authenticator = APIKeyCache(keys)
        // Nothing below throws once the pool and the client exist: their services shut them down.
        let renderPool = NIOThreadPool(numberOfThreads: max(1, configuration.workers))
        let fetchClient = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: ReferenceFetcher.makeHTTPClientConfiguration())
        let references = ReferenceImages(
            fetcher: ReferenceFetcher(
                configuration: .init(allowedHosts: Set(configuration.allowedFetchHosts)),
                httpClient: fetchClient),
            local: StoredFileReferences(links: OwnFileLinks(signer: signer, clock: clock), images: jobs))
        do {
            models = try Self.makeCatalog(
                configuration, override: engine, renderPool: renderPool, references: references,
                metrics: metrics.factory)
        } catch {
            try? await fetchClient.shutdown()
            throw error
        }
        jobInstruments = JobInstruments(models: models, factory: metrics.factory)
        renderPool.start()
        self.renderPool = renderPool
        self.fetchClient = fetchClient
    }

    /// Prepares the store and loads the signing secret: run by the node's
    /// ``StartupService`` once the store's own services run.
    func prepare(logger: Logger) async throws {
        let secret = try await backend.prepare(recoverJobs: configuration.runsWorkers, logger: logger)
        signer.load(secret: secret)
    }

    /// One engine per served slug.
    private static func makeCatalog(
        _ configuration: ServerConfiguration, override: (any ImageEngine)?, renderPool: NIOThreadPool,
        references: ReferenceImages, metrics: any MetricsFactory
    ) throws -> ModelCatalog {
        if let override {
            return ModelCatalog(configuration.models.mapValues { _ in override })
        }
        switch configuration.resolvedEngine {
        case .preview:
            let preview = try PreviewEngine(
                configuration: .init(
                    blockedWords: configuration.blockedWords, latency: .seconds(configuration.previewLatency)),
                threadPool: renderPool, references: references)
            return ModelCatalog(configuration.models.mapValues { _ in preview })
        case .null:
            let null = try NullEngine()
            return ModelCatalog(configuration.models.mapValues { _ in null })
        case .gemini:
            return ModelCatalog(
                configuration.models.mapValues { model in
                    GeminiEngine(
                        configuration: .init(
                            apiKey: configuration.geminiAPIKey ?? "", baseURL: configuration.geminiBaseURL,
                            model: model,
                            maxConcurrentRequests: configuration.upstreamConcurrency),
                        client: HTTPClient.shared, threadPool: renderPool, references: references, metrics: metrics)
                })
        }
    }

    /// The engine serving `nano-banana-2`.
    public var engineName: String { models.engine(for: NanoBanana2Parameters.modelSlug)?.name ?? "none" }

    /// The slugs served.
    public var modelSlugs: [String] { models.slugs }
}

extension ServerComponents {
    /// Whether other processes may run this store's jobs.
    var isShared: Bool { backend.isShared }

    /// Builds the absolute URLs the API hands out.
    var publicURLs: PublicURLs {
        PublicURLs(
            configuredBase: configuration.publicBaseURL,
            fallbackAuthority: "\(configuration.host):\(configuration.port)")
    }

    /// Tells the server's own signed file links from other URLs.
    var ownLinks: OwnFileLinks { OwnFileLinks(signer: signer, clock: clock) }

    /// Renders stored jobs as the wire's bodies.
    var jobViews: JobViews {
        JobViews(
            jobs: finished, keys: keys, clock: clock, retention: configuration.retention, signer: signer,
            urls: publicURLs)
    }

    /// Where the links in webhook bodies point: the public URL, or this node's address.
    var webhookLinkBase: String {
        let configured = configuration.publicBaseURL ?? "http://\(configuration.host):\(configuration.port)"
        return configured.hasSuffix("/") ? String(configured.dropLast()) : configured
    }

    /// Waits for a job to finish, wherever its worker runs.
    var completions: CompletionWaiter {
        CompletionWaiter(hub: hub, jobs: finished, recheckEvery: isShared ? .seconds(1) : .seconds(2))
    }

    /// Waits for a job to finish for a long-poll or a `Prefer: wait` submit. Thousands may
    /// wait at once, so each reads its job again only every 5 s: finishes reach them through
    /// the hub at once, the reread covers a lost announcement or another process's cancel.
    var longPolls: CompletionWaiter {
        CompletionWaiter(hub: hub, jobs: finished, recheckEvery: .seconds(5))
    }

    /// Waits until the job is COMPLETED or FAILED, or `timeout` passes, and returns it as
    /// stored. Race-free: interest is registered before the store is read, so a finish in
    /// between is not missed.
    public func waitUntilFinished(jobID: String, timeout: Duration) async throws -> JobRecord? {
        hub.expect(jobID)
        defer { hub.forget(jobID) }
        if let job = try await finished.job(id: jobID), job.status.isTerminal { return job }
        _ = try await completions.wait(for: jobID, timeout: timeout)
        return try await finished.job(id: jobID)
    }

    /// The node is shutting down: from now on no job is claimed, running jobs have the
    /// drain timeout to finish, and v1 requests wait no longer than that (at once for a
    /// job still queued). The first call counts.
    func beginDrain() {
        let deadline = ContinuousClock.now + .seconds(configuration.drainTimeout)
        signal.beginDrain(until: deadline)
        hub.beginDrain(until: deadline)
    }

    /// Throws ``StoreUnavailable`` when the store cannot be reached now.
    public func checkStore() async throws {
        try await backend.ping()
    }
}
