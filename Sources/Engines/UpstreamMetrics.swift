import CoreMetrics
import Metrics
import Synchronization

/// Calls to an upstream model, counted by HTTP status (`connection_failed` when no answer
/// came) and timed, per engine and upstream model:
///
/// - `nano_banana_upstream_requests_total{engine, model, status}`
/// - `nano_banana_upstream_request_duration_seconds{engine, model}`
///
/// Each try counts, retries included: a 429 storm shows as many 429s.
public struct UpstreamMetrics: Sendable {
    public static let requestsName = "nano_banana_upstream_requests_total"
    public static let durationName = "nano_banana_upstream_request_duration_seconds"
    /// The status label of a call that got no HTTP answer.
    static let connectionFailed = "connection_failed"

    private let factory: any MetricsFactory
    private let labels: [(String, String)]
    private let duration: CoreMetrics.Timer
    /// One counter per status seen; statuses are few, so the lock is rarely contended.
    private let counters: Counters

    private final class Counters: Sendable {
        let byStatus = Mutex<[String: Counter]>([:])
    }

    public init(engine: String, model: String, factory: any MetricsFactory) {
        self.factory = factory
        labels = [("engine", engine), ("model", model)]
        duration = CoreMetrics.Timer(label: Self.durationName, dimensions: labels, factory: factory)
        counters = Counters()
    }

    func record(status: String, duration elapsed: Duration) {
        duration.record(duration: elapsed)
        let (factory, labels) = (factory, labels)
        counters.byStatus.withLock { byStatus in
            if let counter = byStatus[status] { return counter }
            let made = Counter(label: Self.requestsName, dimensions: labels + [("status", status)], factory: factory)
            byStatus[status] = made
            return made
        }.increment()
    }
}
