import AsyncHTTPClient
import Engines
import Foundation
import Hummingbird
import Logging
import NIOPosix
import ServiceLifecycle
import Store

/// Builds the whole server: routes, worker pool, retention sweeper, one `Application`.
/// The executable calls this with its parsed configuration; tests call it with theirs.
///
/// - Parameter whenPrepared: runs once the store is prepared, before the server listens
///   (`serve` makes a first run's key there).
public func buildApplication(
    _ components: ServerComponents, logger: Logger, whenPrepared: @escaping @Sendable () async throws -> Void = {}
) async throws -> some ApplicationProtocol {
    let configuration = components.configuration
    let router = try buildRouter(components, logger: logger)
    var app = Application(
        router: router,
        server: .guardedHTTP1(configuration.connections, count: components.connections, logger: logger),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "nano-banana"),
        services: buildServices(components, logger: logger, whenPrepared: whenPrepared),
        logger: logger)
    // The server listens once the store is prepared (or not at all: a failed start stops
    // the group, and this wait fails with it).
    let started = components.started
    app.beforeServerStarts { try await started.wait() }
    return app
}

/// Everything a node runs besides the HTTP server, in start order; the service group stops
/// them in reverse order:
///
/// 1. the store's own services (PostgreSQL's pool, which so stops last, once the workers
///    have handed their jobs back), the render pool and the fetch client;
/// 2. ``StartupService``, which prepares the store (migrations, the signing secret, the
///    recovery of a dead process's jobs) and then opens ``ServerComponents/started``;
/// 3. once it has, the cluster listener, the completion hub's ticker, the workers (unless
///    the node is API-only), the retention sweeper and the queue's metrics sampler;
/// 4. with `--metrics-port`, the metrics listener (``MetricsListener``), from the start.
///
/// `nano-banana worker` runs these alone.
public func buildServices(
    _ components: ServerComponents, logger: Logger, whenPrepared: @escaping @Sendable () async throws -> Void = {}
) -> [any Service] {
    let configuration = components.configuration
    var services: [any Service] =
        components.backend.services + [
            ThreadPoolService(pool: components.renderPool), HTTPClientService(client: components.fetchClient),
            StartupService(components: components, whenPrepared: whenPrepared, logger: logger),
        ]
    var node = components.backend.listeners(signal: components.signal, hub: components.hub) + [components.hub]
    if configuration.runsWorkers {
        let running = RunningJobs()
        let runner = JobRunner(
            jobs: components.jobs, models: components.models, hub: components.hub, running: running,
            jobTimeout: configuration.jobTimeout, metrics: components.jobInstruments, keys: components.keys,
            logger: logger)
        node.append(
            WorkerPool(
                jobs: components.jobs, runner: runner, running: running, signal: components.signal,
                concurrency: configuration.workers,
                leaseDuration: configuration.leaseDuration, drainTimeout: configuration.drainTimeout,
                idlePoll: components.isShared ? .seconds(2) : .seconds(1), logger: logger))
    }
    node.append(
        WebhookDispatcher(
            outbox: components.backend.outbox, registry: components.backend.registry,
            payloads: WebhookPayloads(views: components.jobViews, base: components.webhookLinkBase),
            sender: WebhookSender(
                allowedHosts: Set(configuration.allowedWebhookHosts), httpClient: components.fetchClient),
            policy: configuration.webhookRetry, clock: components.clock,
            metrics: WebhookInstruments(factory: components.metrics.factory), logger: logger))
    node.append(
        RetentionSweeper(
            jobs: components.jobs, uploads: components.backend.uploads, cache: components.finished,
            clock: components.clock,
            retention: configuration.retention, interval: configuration.effectiveSweepInterval, logger: logger))
    node.append(MetricsSampler(jobs: components.jobs, factory: components.metrics.factory, logger: logger))
    services += node.map { AfterStartup(started: components.started, service: $0) }
    if let port = configuration.metricsPort {
        // Listens from the start, so that a port already taken stops the node at once.
        services.append(
            MetricsListener(
                metrics: components.metrics, host: configuration.host, port: port, bound: components.metricsPort,
                logger: logger))
    }
    return services
}

/// The routes, in one place. `Sources/Contract/openapi.json` describes every one of them
/// (a test holds the two together).
func buildRouter(_ components: ServerComponents, logger: Logger) throws -> Router<APIRequestContext> {
    let configuration = components.configuration
    let urls = components.publicURLs
    let views = components.jobViews
    let submitter = JobSubmitter(
        jobs: components.jobs, models: components.models, signal: components.signal, hub: components.hub,
        maxAttempts: configuration.maxAttempts, maxBodyBytes: configuration.maxBodyBytes,
        allowedFetchHosts: Set(configuration.allowedFetchHosts), prices: configuration.prices,
        limits: configuration.limits,
        webhooks: WebhookRequestTargets(
            guarded: GuardedHTTPClient(
                allowedHosts: Set(configuration.allowedWebhookHosts), httpClient: components.fetchClient)),
        metrics: components.jobInstruments, retention: configuration.retention, ownLinks: components.ownLinks)

    // HEAD on every GET route (the health checks among them): the GET's status and
    // headers, without its body.
    let router = Router(context: APIRequestContext.self, options: .autoGenerateHeadEndpoints)
    // First, so that it logs the status actually sent, errors rendered below included.
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: HTTPMetricsMiddleware(instruments: HTTPInstruments(factory: components.metrics.factory)))
    router.add(middleware: JSONErrorMiddleware(maxBodyBytes: configuration.maxBodyBytes))
    router.get("healthz") { _, _ in Response.json(["status": "ok"]) }
    // Readiness for a load balancer: the process is up *and* reaches its store (503 with a
    // JSON error otherwise, through the error middleware).
    router.get("readyz") { _, _ in
        try await components.checkStore()
        return Response.json(["status": "ok"])
    }
    // One copy of an image however many responses send it.
    let served = ServedImages()
    FilesController(jobs: components.finished, signer: components.signer, clock: components.clock, served: served)
        .addRoutes(to: router)
    try OpenAPIController(modelSlugs: components.modelSlugs).addRoutes(to: router)

    let authenticated = APIKeyMiddleware(keys: components.authenticator)
    let v1 = router.group("v1").add(middleware: authenticated)
    let v2 = router.group("v2").add(middleware: authenticated)
    HistoryController(history: components.backend.history, views: views)
        .addRoutes(v2: v2, segmind: router.group("inference-request").add(middleware: authenticated))
    RequestsController(
        views: views, hub: components.hub, completions: components.longPolls, urls: urls,
        keepAlive: .milliseconds(Int64(configuration.eventKeepAlive * 1000))
    ).addRoutes(to: v2)
    CreditsController(keys: components.keys).addRoutes(to: v1)
    UploadsController(
        uploads: components.backend.uploads, views: views, maxBodyBytes: configuration.maxBodyBytes,
        quota: UploadQuota(bytes: configuration.uploadQuota)
    ).addRoutes(to: router.group("upload-asset").add(middleware: authenticated))
    WebhooksController(views: views, outbox: components.backend.outbox, registry: components.backend.registry)
        .addRoutes(v2: v2, registry: router.group("webhook").add(middleware: authenticated))
    AdminController(keys: components.keys).addRoutes(
        to: router.group("admin").add(middleware: authenticated).add(middleware: AdminOnlyMiddleware()))
    // The metrics for an admin key; `--metrics-port` serves them without one (MetricsListener).
    let metrics = components.metrics
    router.group("metrics").add(middleware: authenticated).add(middleware: AdminOnlyMiddleware())
        .get { _, _ in metrics.response() }
    GenerationController(
        submitter: submitter, views: views, hub: components.hub, completions: components.completions,
        longPolls: components.longPolls, urls: urls,
        served: served, syncTimeout: configuration.syncTimeout
    ).addRoutes(v1: v1, v2: v2)
    // Last: a router middleware wraps only the routes added after it, and the not-found
    // responder, so this one sees only requests no route answered.
    router.add(
        middleware: MethodNotAllowedMiddleware(
            allowed: AllowedMethods(router.routes.map { ($0.path, $0.method) }, headForGet: true)))
    return router
}
