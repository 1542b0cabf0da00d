import AsyncHTTPClient
import Engines
import Foundation
import Logging
import NIOPosix
import NanoBananaAPI
import Store

/// The long-lived parts of a server process, made once from its configuration: stores,
/// engines and the signals between the API and the workers. Tests build one over a temp
/// directory and reach into its stores.
public struct ServerComponents: Sendable {
    public let configuration: ServerConfiguration
    public let database: SQLiteDatabase
    public let jobs: any JobStore
    public let keys: any APIKeyStore
    public let clock: any WallClock
    let models: ModelCatalog
    let signer: OutputURLSigner
    let signal = WorkSignal()
    let hub = CompletionHub()
    /// Where CPU-heavy rendering and encoding run, away from the event loops.
    let renderPool: NIOThreadPool
    /// Held for as long as these components live.
    let lock: DataDirectoryLock
    /// The client that fetches http(s) reference images (it never follows redirects on its
    /// own: the fetcher checks every hop).
    let fetchClient: HTTPClient
    let references: ReferenceImages

    /// Opens (creating) the data directory, the database and the engine.
    ///
    /// - Parameters:
    ///   - engine: an engine to use instead of the configured one (tests).
    public init(
        configuration: ServerConfiguration, clock: any WallClock = SystemWallClock(), engine: (any ImageEngine)? = nil
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        let directory = URL(fileURLWithPath: configuration.dataDirectory, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        lock = try DataDirectoryLock(directory: directory)
        database = try SQLiteDatabase(path: directory.appendingPathComponent("nano-banana.sqlite").path)
        jobs = FinishedJobCache(SQLiteJobStore(database: database, clock: clock))
        keys = APIKeyCache(SQLiteAPIKeyStore(database: database, clock: clock))
        signer = OutputURLSigner(secret: try database.signingSecret())
        renderPool = NIOThreadPool(numberOfThreads: max(1, configuration.workers))
        renderPool.start()
        fetchClient = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: ReferenceFetcher.makeHTTPClientConfiguration())
        references = ReferenceImages(
            fetcher: ReferenceFetcher(
                configuration: .init(allowedHosts: Set(configuration.allowedFetchHosts.map { $0.lowercased() })),
                httpClient: fetchClient))
        models = try Self.makeCatalog(configuration, override: engine, renderPool: renderPool, references: references)
    }

    /// One engine per served slug.
    private static func makeCatalog(
        _ configuration: ServerConfiguration, override: (any ImageEngine)?, renderPool: NIOThreadPool,
        references: ReferenceImages
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
                        client: HTTPClient.shared, threadPool: renderPool, references: references)
                })
        }
    }

    /// The engine serving `nano-banana-2`.
    public var engineName: String { models.engine(for: NanoBanana2Parameters.modelSlug)?.name ?? "none" }

    /// The slugs served.
    public var modelSlugs: [String] { models.slugs }
}

extension ServerComponents {
    /// Waits until the job is COMPLETED or FAILED in this process, or `timeout` passes, and
    /// returns it as stored. Race-free: interest is registered before the store is read, so
    /// a finish in between is not missed.
    public func waitUntilFinished(jobID: String, timeout: Duration) async throws -> JobRecord? {
        hub.expect(jobID)
        defer { hub.forget(jobID) }
        if let job = try await jobs.job(id: jobID), job.status.isTerminal { return job }
        _ = await hub.wait(for: jobID, timeout: timeout)
        return try await jobs.job(id: jobID)
    }
}
