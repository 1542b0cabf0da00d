import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Store

/// The store a node runs on, with what only it knows: the services it needs running, how
/// to prepare it, how to tell it is reachable, and how it tells the node about other
/// processes' work. The only place that knows which kinds of store exist.
protocol StoreBackend: Sendable {
    var jobs: any JobStore { get }
    var keys: any APIKeyStore { get }
    /// The webhook outbox (the job store's) and the keys' webhooks and secrets.
    var outbox: any WebhookOutbox { get }
    var registry: any WebhookRegistry { get }
    /// The keys' request histories and uploads (the job store's).
    var history: any RequestHistory { get }
    var uploads: any UploadStore { get }
    /// Whether other processes may run this store's jobs (and finish them).
    var isShared: Bool { get }
    /// The kind of store, as the metrics label it: `sqlite` or `postgres`.
    var kind: String { get }

    /// What must run before anything uses the store (PostgreSQL's connection pool); the
    /// first services of the node's group, so they stop last.
    var services: [any Service] { get }

    /// Brings the store up to date (migrations) and, for a node that runs workers on a
    /// store no other process runs jobs from, hands back the jobs a dead process left
    /// PROCESSING. Returns the secret output URLs are signed with.
    func prepare(recoverJobs: Bool, logger: Logger) async throws -> [UInt8]

    /// The services that hear about other processes' work (new jobs, finished jobs, key
    /// changes); none for a store only this process uses.
    func listeners(signal: WorkSignal, hub: CompletionHub) -> [any Service]

    /// Throws ``StoreUnavailable`` when the store cannot be reached now.
    func ping() async throws

    /// Adds what the metrics can tell of the store's connections, if anything.
    func observe(into metrics: ServerMetrics)
}

/// The embedded database in the data directory, which this process holds alone.
struct SQLiteBackend: StoreBackend {
    let database: SQLiteDatabase
    /// Held for as long as the backend lives: one server per data directory.
    let lock: DataDirectoryLock
    let sqliteJobs: SQLiteJobStore
    let sqliteKeys: SQLiteAPIKeyStore
    var jobs: any JobStore { sqliteJobs }
    var keys: any APIKeyStore { sqliteKeys }
    var outbox: any WebhookOutbox { sqliteJobs }
    var registry: any WebhookRegistry { sqliteKeys }
    var history: any RequestHistory { sqliteJobs }
    var uploads: any UploadStore { sqliteJobs }
    var isShared: Bool { false }
    var kind: String { "sqlite" }
    var services: [any Service] { [DataDirectoryWatch(lock: lock, interval: .seconds(2))] }

    init(directory: URL, clock: any WallClock, logger: Logger) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        lock = try DataDirectoryLock(directory: directory)
        database = try SQLiteDatabase(path: directory.appendingPathComponent("nano-banana.sqlite").path)
        sqliteJobs = SQLiteJobStore(database: database, clock: clock, logger: logger)
        sqliteKeys = SQLiteAPIKeyStore(database: database, clock: clock, logger: logger)
    }

    func prepare(recoverJobs: Bool, logger: Logger) async throws -> [UInt8] {
        if recoverJobs {
            // The lock says no other server runs here: any job still PROCESSING belonged to
            // a process that is gone.
            let orphans = try await jobs.expireAllLeases()
            if orphans > 0 {
                logger.info("Recovered jobs left running by a previous process", metadata: ["jobs": "\(orphans)"])
            }
        }
        return try database.signingSecret()
    }

    func listeners(signal: WorkSignal, hub: CompletionHub) -> [any Service] { [] }

    func ping() async throws { try database.ping() }

    /// SQLite has no connection pool to speak of.
    func observe(into metrics: ServerMetrics) {}
}

/// PostgreSQL, shared by every API and worker node of a cluster.
struct PostgresBackend: StoreBackend {
    let database: PostgresDatabase
    let postgresKeys: PostgresAPIKeyStore
    let postgresJobs: PostgresJobStore
    var jobs: any JobStore { postgresJobs }
    var keys: any APIKeyStore { postgresKeys }
    var outbox: any WebhookOutbox { postgresJobs }
    var registry: any WebhookRegistry { postgresKeys }
    var history: any RequestHistory { postgresJobs }
    var uploads: any UploadStore { postgresJobs }
    var isShared: Bool { true }
    var kind: String { "postgres" }
    var services: [any Service] { [PostgresPoolService(database: database)] }

    init(
        location: PostgresLocation, maxConnections: Int, operationTimeout: TimeInterval, clock: any WallClock,
        logger: Logger
    ) {
        database = PostgresDatabase(
            location: location, logger: logger, maxConnections: maxConnections,
            operationTimeout: .milliseconds(Int64(operationTimeout * 1000)))
        postgresKeys = PostgresAPIKeyStore(database: database, clock: clock)
        postgresJobs = PostgresJobStore(database: database, clock: clock)
    }

    /// Migrates. Other nodes may be running jobs, so no lease is ended early: a dead node's
    /// jobs come back when their leases run out.
    func prepare(recoverJobs: Bool, logger: Logger) async throws -> [UInt8] {
        try await database.waitUntilRunning()
        try await database.migrate()
        return try await database.signingSecret()
    }

    func listeners(signal: WorkSignal, hub: CompletionHub) -> [any Service] {
        let keys = postgresKeys
        return [
            ClusterEventsService(
                events: PostgresEvents(
                    database: database,
                    handlers: .init(
                        jobQueued: { signal.signal() }, jobFinished: { hub.finish($0) },
                        keysChanged: { keys.noteExternalChange() },
                        resynchronize: {
                            signal.wakeAll()
                            keys.noteExternalChange()
                        })))
        ]
    }

    func ping() async throws { try await database.ping() }

    /// The pool's use, read at each scrape.
    func observe(into metrics: ServerMetrics) {
        let (database, factory) = (database, metrics.factory)
        let inUse = Gauge(label: MetricName.poolInUse, factory: factory)
        let waiting = Gauge(label: MetricName.poolWaiting, factory: factory)
        let maximum = Gauge(label: MetricName.poolMax, factory: factory)
        metrics.onCollect {
            let usage = database.usage
            inUse.record(usage.inUse)
            waiting.record(usage.waiting)
            maximum.record(usage.maximum)
        }
    }
}
