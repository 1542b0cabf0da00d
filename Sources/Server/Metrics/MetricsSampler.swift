import CoreMetrics
import Logging
import Metrics
import ServiceLifecycle
import Store

/// Samples the store's queue every few seconds into the queue-depth gauges: one small
/// query per interval, however many requests or scrapes come. A sample that fails (the
/// store is down) leaves the last values, and the next one tries again.
struct MetricsSampler: Service {
    let jobs: any JobStore
    let queued: Gauge
    let processing: Gauge
    let interval: Duration
    let logger: Logger

    init(jobs: any JobStore, factory: any MetricsFactory, interval: Duration = .seconds(5), logger: Logger) {
        self.jobs = jobs
        queued = Gauge(label: MetricName.queueDepth, factory: factory)
        processing = Gauge(label: MetricName.jobsProcessing, factory: factory)
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sample()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Reads the counts once.
    func sample() async {
        do {
            let counts = try await jobs.counts()
            queued.record(counts[.queued] ?? 0)
            processing.record(counts[.processing] ?? 0)
        } catch {
            logger.debug("Could not sample the queue for the metrics", metadata: ["error": "\(error)"])
        }
    }
}
