import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOPosix
import ServiceLifecycle
import Store

/// Builds the whole server: routes, worker pool, retention sweeper, one `Application`.
/// The executable calls this with its parsed configuration; tests call it with theirs.
public func buildApplication(_ components: ServerComponents, logger: Logger) async throws -> some ApplicationProtocol {
    let configuration = components.configuration
    let router = buildRouter(components, logger: logger)
    return Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "nano-banana"),
        services: try await buildServices(components, logger: logger),
        logger: logger)
}

/// Everything a node runs besides the HTTP server: its workers (unless it is API-only), the
/// retention sweeper, and with PostgreSQL the cluster event listener and the connection
/// pool, which shuts down last so that workers can hand their jobs back on the way out.
/// `nano-banana worker` runs these alone.
public func buildServices(_ components: ServerComponents, logger: Logger) async throws -> [any Service] {
    let configuration = components.configuration
    var services: [any Service] = []
    switch components.backend {
    case .sqlite:
        if configuration.runsWorkers {
            // Single-node store: any job still PROCESSING belonged to a process that is gone.
            let orphans = try await components.jobs.expireAllLeases()
            if orphans > 0 {
                logger.info("Recovered jobs left running by a previous process", metadata: ["jobs": "\(orphans)"])
            }
        }
    case .postgres(let database, let keys):
        services.append(PostgresPoolService(database: database))
        let signal = components.signal
        let hub = components.hub
        services.append(
            ClusterEventsService(
                events: PostgresEvents(
                    database: database,
                    handlers: .init(
                        jobQueued: { signal.signal() }, jobFinished: { hub.finish($0) },
                        keysChanged: { keys.noteExternalChange() },
                        resynchronize: {
                            signal.wakeAll()
                            keys.noteExternalChange()
                        }))))
    }
    let running = RunningJobs()
    let runner = JobRunner(
        jobs: components.jobs, models: components.models, hub: components.hub, running: running,
        jobTimeout: configuration.jobTimeout, logger: logger)
    services += [
        ThreadPoolService(pool: components.renderPool), HTTPClientService(client: components.fetchClient),
        components.hub,
    ]
    if configuration.runsWorkers {
        services.append(
            WorkerPool(
                jobs: components.jobs, runner: runner, running: running, signal: components.signal,
                concurrency: configuration.workers,
                leaseDuration: configuration.leaseDuration, drainTimeout: configuration.drainTimeout,
                idlePoll: components.backend.isShared ? .seconds(2) : .seconds(1), logger: logger))
    }
    services.append(
        RetentionSweeper(
            jobs: components.jobs, cache: components.finished, clock: components.clock,
            retention: configuration.retention, interval: configuration.effectiveSweepInterval, logger: logger))
    return services
}

/// The routes, in one place.
func buildRouter(_ components: ServerComponents, logger: Logger) -> Router<APIRequestContext> {
    let configuration = components.configuration
    let urls = PublicURLs(
        configuredBase: configuration.publicBaseURL, fallbackAuthority: "\(configuration.host):\(configuration.port)")
    let views = JobViews(
        jobs: components.finished, keys: components.keys, clock: components.clock, retention: configuration.retention,
        signer: components.signer,
        urls: urls)
    let submitter = JobSubmitter(
        jobs: components.jobs, models: components.models, signal: components.signal, hub: components.hub,
        maxAttempts: configuration.maxAttempts, maxBodyBytes: configuration.maxBodyBytes,
        allowedFetchHosts: Set(configuration.allowedFetchHosts.map { $0.lowercased() }), prices: configuration.prices,
        limits: configuration.limits)

    let router = Router(context: APIRequestContext.self)
    router.add(middleware: JSONErrorMiddleware(maxBodyBytes: configuration.maxBodyBytes))
    router.get("healthz") { _, _ in Response.json(["status": "ok"]) }
    // Readiness for a load balancer: the process is up *and* reaches its store (503 with a
    // JSON error otherwise, through the error middleware).
    router.get("readyz") { _, _ in
        try await components.checkStore()
        return Response.json(["status": "ok"])
    }
    FilesController(jobs: components.finished, signer: components.signer, clock: components.clock).addRoutes(to: router)

    let authenticated = APIKeyMiddleware(keys: components.authenticator)
    let v1 = router.group("v1").add(middleware: authenticated)
    let v2 = router.group("v2").add(middleware: authenticated)
    RequestsController(views: views).addRoutes(to: v2)
    AdminController(keys: components.keys).addRoutes(
        to: router.group("admin").add(middleware: authenticated).add(middleware: AdminOnlyMiddleware()))
    GenerationController(
        submitter: submitter, views: views, hub: components.hub, completions: components.completions, urls: urls,
        syncTimeout: configuration.syncTimeout
    ).addRoutes(v1: v1, v2: v2)
    return router
}

/// Shuts the reference-fetching client down with the rest of the process.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Shuts the render thread pool down with the rest of the process.
struct ThreadPoolService: Service {
    let pool: NIOThreadPool

    func run() async throws {
        try? await gracefulShutdown()
        try await pool.shutdownGracefully()
    }
}

/// Keeps the PostgreSQL pool open until everything before it in the service group has
/// stopped (services stop in reverse order), then closes it.
struct PostgresPoolService: Service {
    let database: PostgresDatabase

    func run() async throws {
        try? await gracefulShutdown()
        await database.shutdown()
    }
}

/// Listens for the cluster's announcements until shutdown.
struct ClusterEventsService: Service {
    let events: PostgresEvents

    func run() async throws {
        await cancelWhenGracefulShutdown { await events.run() }
    }
}
