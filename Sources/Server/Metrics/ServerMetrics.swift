import CoreMetrics
import Engines
import Prometheus
import Synchronization

/// The metrics of one server instance: a Prometheus registry of its own, and the
/// swift-metrics factory whose handlers land in it. Every part that records metrics is
/// handed ``factory`` explicitly; nothing goes through `MetricsSystem.bootstrap`, which a
/// process may call only once: the tests run many servers in one process, each with its
/// own counters.
///
/// Gauges of in-memory state (jobs in flight, the PostgreSQL pool) are read when the
/// metrics are scraped (``onCollect(_:)``), so the hot paths do not keep them; the queue
/// depth comes from the store, sampled by ``MetricsSampler``.
public final class ServerMetrics: Sendable {
    /// Where the metrics live; ``exposition()`` renders it.
    public let registry: PrometheusCollectorRegistry
    /// Makes swift-metrics handlers in ``registry``, with the buckets of ``MetricName``.
    public let factory: any MetricsFactory
    private let collectors = Mutex<[@Sendable () -> Void]>([])

    /// The content type of ``exposition()``: Prometheus' text format 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = MetricName.durationBuckets
        self.registry = registry
        self.factory = factory
    }

    /// Runs `collect` before each ``exposition()``: for gauges read from memory at scrape
    /// time rather than kept up to date on a hot path.
    func onCollect(_ collect: @escaping @Sendable () -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    /// The metrics in Prometheus' text format, once the collectors have run.
    public func exposition() -> [UInt8] {
        for collect in collectors.withLock({ $0 }) { collect() }
        return registry.emitToBuffer()
    }
}

/// Every metric's name, in one place (the README's table lists the same). Names follow
/// Prometheus' conventions: a `nano_banana_` prefix, `_total` on counters, `_seconds` on
/// durations.
enum MetricName {
    static let httpRequests = "nano_banana_http_requests_total"
    static let httpDuration = "nano_banana_http_request_duration_seconds"
    static let jobsSubmitted = "nano_banana_jobs_submitted_total"
    static let jobsCompleted = "nano_banana_jobs_completed_total"
    static let jobsFailed = "nano_banana_jobs_failed_total"
    static let jobsRetried = "nano_banana_jobs_retried_total"
    static let queueDepth = "nano_banana_queue_depth"
    static let jobsProcessing = "nano_banana_jobs_processing"
    static let jobsInFlight = "nano_banana_jobs_in_flight"
    static let queueTime = "nano_banana_job_queue_seconds"
    static let inferenceTime = "nano_banana_job_inference_seconds"
    static let creditsCharged = "nano_banana_credits_charged_total"
    static let creditsRefunded = "nano_banana_credits_refunded_total"
    static let storeDuration = "nano_banana_store_operation_duration_seconds"
    static let storeUnavailable = "nano_banana_store_unavailable_total"
    static let poolInUse = "nano_banana_postgres_connections_in_use"
    static let poolWaiting = "nano_banana_postgres_operations_waiting"
    static let poolMax = "nano_banana_postgres_connections_max"
    static let webhookDeliveries = "nano_banana_webhook_deliveries_total"
    static let idempotentReplays = "nano_banana_idempotent_replays_total"
    // The engines name theirs: ``UpstreamMetrics``.

    /// Fast operations: from half a millisecond to ten seconds.
    private static let fast: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    /// Jobs: from a tenth of a second to the default job timeout.
    private static let slow: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(20), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600),
    ]

    /// Requests: as fast, up to a v1 request's default wait for its image.
    private static let requests = fast + [.seconds(30), .seconds(60), .seconds(120), .seconds(300)]

    static let durationBuckets: [String: [Duration]] = [
        httpDuration: requests, storeDuration: fast, queueTime: slow, inferenceTime: slow,
        UpstreamMetrics.durationName: slow,
    ]
}
