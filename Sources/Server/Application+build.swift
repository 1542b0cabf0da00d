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
    if configuration.runsWorkers {
        // Single-node store: any job still PROCESSING belonged to a process that is gone.
        let orphans = try await components.jobs.expireAllLeases()
        if orphans > 0 {
            logger.info("Recovered jobs left running by a previous process", metadata: ["jobs": "\(orphans)"])
        }
    }

    let router = buildRouter(components, logger: logger)
    let running = RunningJobs()
    let runner = JobRunner(
        jobs: components.jobs, models: components.models, hub: components.hub, running: running,
        jobTimeout: configuration.jobTimeout, logger: logger)
    var services: [any Service] = [
        ThreadPoolService(pool: components.renderPool), HTTPClientService(client: components.fetchClient),
        components.hub,
    ]
    if configuration.runsWorkers {
        services.append(
            WorkerPool(
                jobs: components.jobs, runner: runner, running: running, signal: components.signal,
                concurrency: configuration.workers,
                leaseDuration: configuration.leaseDuration, drainTimeout: configuration.drainTimeout,
                idlePoll: .seconds(1), logger: logger))
    }
    services.append(
        RetentionSweeper(
            jobs: components.jobs, clock: components.clock, retention: configuration.retention,
            interval: configuration.effectiveSweepInterval, logger: logger))

    return Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "nano-banana"),
        services: services,
        logger: logger)
}

/// The routes, in one place.
func buildRouter(_ components: ServerComponents, logger: Logger) -> Router<APIRequestContext> {
    let configuration = components.configuration
    let urls = PublicURLs(
        configuredBase: configuration.publicBaseURL, fallbackAuthority: "\(configuration.host):\(configuration.port)")
    let views = JobViews(
        jobs: components.jobs, keys: components.keys, clock: components.clock, retention: configuration.retention,
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
    FilesController(jobs: components.jobs, signer: components.signer, clock: components.clock).addRoutes(to: router)

    let authenticated = APIKeyMiddleware(keys: components.keys)
    let v1 = router.group("v1").add(middleware: authenticated)
    let v2 = router.group("v2").add(middleware: authenticated)
    RequestsController(views: views).addRoutes(to: v2)
    AdminController(keys: components.keys).addRoutes(
        to: router.group("admin").add(middleware: authenticated).add(middleware: AdminOnlyMiddleware()))
    GenerationController(
        submitter: submitter, views: views, hub: components.hub, urls: urls,
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
