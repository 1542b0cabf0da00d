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
    /// Where jobs, keys and images live.
    public let backend: StoreBackend
    public let jobs: any JobStore
    public let keys: any APIKeyStore
    /// What the routes read jobs through: finished ones from memory.
    let finished: FinishedJobCache
    /// What requests authenticate through: recent answers from memory.
    let authenticator: APIKeyCache
    public let clock: any WallClock
    let models: ModelCatalog
    let signer: OutputURLSigner
    let signal = WorkSignal()
    let hub = CompletionHub()
    /// Where CPU-heavy rendering and encoding run, away from the event loops.
    let renderPool: NIOThreadPool
    /// The client that fetches http(s) reference images (it never follows redirects on its
    /// own: the fetcher checks every hop).
    let fetchClient: HTTPClient
    let references: ReferenceImages

    /// Opens the store (the data directory's SQLite database, or the PostgreSQL cluster
    /// store, migrated on the way) and the engine.
    ///
    /// - Parameters:
    ///   - engine: an engine to use instead of the configured one (tests).
    public init(
        configuration: ServerConfiguration, clock: any WallClock = SystemWallClock(), engine: (any ImageEngine)? = nil,
        logger: Logger = Logger(label: "nano-banana")
    ) async throws {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        if let location = configuration.postgresLocation {
            let database = PostgresDatabase(
                location: location, logger: logger, maxConnections: max(20, configuration.workers * 2 + 8))
            database.start()
            do {
                try await database.migrate()
                let keys = PostgresAPIKeyStore(database: database, clock: clock)
                backend = .postgres(database, keys: keys)
                jobs = PostgresJobStore(database: database, clock: clock)
                self.keys = keys
                signer = OutputURLSigner(secret: try await database.signingSecret())
            } catch {
                await database.shutdown()
                throw error
            }
        } else {
            let directory = URL(fileURLWithPath: configuration.dataDirectory, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let lock = try DataDirectoryLock(directory: directory)
            let database = try SQLiteDatabase(path: directory.appendingPathComponent("nano-banana.sqlite").path)
            backend = .sqlite(database, lock: lock)
            jobs = SQLiteJobStore(database: database, clock: clock)
            keys = SQLiteAPIKeyStore(database: database, clock: clock)
            signer = OutputURLSigner(secret: try database.signingSecret())
        }
        finished = FinishedJobCache(jobs)
        authenticator = APIKeyCache(keys)
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

/// The store a server runs on.
public enum StoreBackend: Sendable {
    /// The embedded database in the data directory, which this process holds alone.
    case sqlite(SQLiteDatabase, lock: DataDirectoryLock)
    /// PostgreSQL, shared by every API and worker node of a cluster.
    case postgres(PostgresDatabase, keys: PostgresAPIKeyStore)

    /// Whether other processes may run this store's jobs (and finish them).
    var isShared: Bool {
        if case .postgres = self { return true }
        return false
    }
}

extension ServerComponents {
    /// The SQLite database, when that is the store.
    public var sqliteDatabase: SQLiteDatabase? {
        if case .sqlite(let database, _) = backend { return database }
        return nil
    }

    /// Waits for a job to finish, wherever its worker runs.
    var completions: CompletionWaiter {
        CompletionWaiter(hub: hub, jobs: finished, recheckEvery: backend.isShared ? .seconds(1) : nil)
    }

    /// Waits until the job is COMPLETED or FAILED, or `timeout` passes, and returns it as
    /// stored. Race-free: interest is registered before the store is read, so a finish in
    /// between is not missed.
    public func waitUntilFinished(jobID: String, timeout: Duration) async throws -> JobRecord? {
        hub.expect(jobID)
        defer { hub.forget(jobID) }
        if let job = try await finished.job(id: jobID), job.status.isTerminal { return job }
        try await completions.wait(for: jobID, timeout: timeout)
        return try await finished.job(id: jobID)
    }

    /// Throws ``StoreUnavailable`` when the store cannot be reached now.
    public func checkStore() async throws {
        switch backend {
        case .sqlite(let database, _): try database.ping()
        case .postgres(let database, _): try await database.ping()
        }
    }

    /// Stops the store's connections (PostgreSQL); a no-op for SQLite.
    public func shutdown() async {
        if case .postgres(let database, _) = backend { await database.shutdown() }
    }
}
