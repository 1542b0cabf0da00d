import CoreMetrics
import Foundation
import Metrics
import Store
import Synchronization

/// The job counters and histograms, by model slug and engine: made once per served slug,
/// so that recording takes no lock. A slug no longer served (a job submitted before a
/// restart) gets its own, made on first use.
final class JobInstruments: Sendable {
    /// The instruments of one slug and its engine.
    struct Model: Sendable {
        let submitted: Counter
        let completed: Counter
        let failed: [FailureCode: Counter]
        let retried: Counter
        let queueTime: CoreMetrics.Timer
        let inferenceTime: CoreMetrics.Timer
        let creditsCharged: Counter
        let creditsRefunded: Counter

        init(slug: String, engine: String, factory: any MetricsFactory) {
            let labels = [("model", slug), ("engine", engine)]
            submitted = Counter(label: MetricName.jobsSubmitted, dimensions: labels, factory: factory)
            completed = Counter(label: MetricName.jobsCompleted, dimensions: labels, factory: factory)
            failed = Dictionary(
                uniqueKeysWithValues: FailureCode.allCases.map { code in
                    (
                        code,
                        Counter(
                            label: MetricName.jobsFailed, dimensions: labels + [("reason", code.rawValue)],
                            factory: factory)
                    )
                })
            retried = Counter(label: MetricName.jobsRetried, dimensions: labels, factory: factory)
            queueTime = CoreMetrics.Timer(label: MetricName.queueTime, dimensions: labels, factory: factory)
            inferenceTime = CoreMetrics.Timer(label: MetricName.inferenceTime, dimensions: labels, factory: factory)
            creditsCharged = Counter(label: MetricName.creditsCharged, dimensions: [("model", slug)], factory: factory)
            creditsRefunded = Counter(
                label: MetricName.creditsRefunded, dimensions: [("model", slug)], factory: factory)
        }
    }

    private let factory: any MetricsFactory
    private let served: [String: Model]
    private let others = Mutex<[String: Model]>([:])
    /// Jobs this process's workers run now.
    let inFlight: Meter
    /// Submissions answered with their idempotency key's earlier request, by route (`v1`, `v2`).
    private let replays: [String: Counter]

    init(models: ModelCatalog, factory: any MetricsFactory) {
        self.factory = factory
        replays = Dictionary(
            uniqueKeysWithValues: ["v1", "v2"].map { route in
                (route, Counter(label: MetricName.idempotentReplays, dimensions: [("route", route)], factory: factory))
            })
        served = Dictionary(
            uniqueKeysWithValues: models.slugs.map { slug in
                (slug, Model(slug: slug, engine: models.engine(for: slug)?.name ?? "none", factory: factory))
            })
        inFlight = Meter(label: MetricName.jobsInFlight, factory: factory)
    }

    /// The instruments of `slug`.
    func model(_ slug: String) -> Model {
        if let model = served[slug] { return model }
        return others.withLock { others in
            if let model = others[slug] { return model }
            let made = Model(slug: slug, engine: "none", factory: factory)
            others[slug] = made
            return made
        }
    }

    /// A worker claimed `job`: a retry when an earlier claim's worker lost it (a handed-back
    /// job does not count its attempt again), and its time in the queue on its first claim.
    func claimed(_ job: JobRecord) {
        let model = model(job.model)
        if job.state.attempts > 1 {
            model.retried.increment()
        } else if let started = job.startedAt {
            model.queueTime.record(duration: .seconds(max(0, started.timeIntervalSince(job.createdAt))))
        }
    }

    /// A submission was accepted; a metered key's balance paid its cost.
    func submitted(model slug: String, cost: Int, metered: Bool) {
        let model = model(slug)
        model.submitted.increment()
        if metered && cost > 0 { model.creditsCharged.increment(by: cost) }
    }

    /// A submission on `route` (`v1`, `v2`) replayed its idempotency key's earlier request:
    /// nothing was submitted or charged.
    func replayed(route: String) {
        replays[route]?.increment()
    }

    /// A worker recorded `job` COMPLETED after `seconds` in the engine.
    func completed(_ job: JobRecord, seconds: Double) {
        let model = model(job.model)
        model.completed.increment()
        model.inferenceTime.record(duration: .seconds(seconds))
    }

    /// `job` was recorded FAILED; `metered` says whether its key paid, so was refunded.
    func failed(_ job: JobRecord, code: FailureCode, metered: Bool) {
        let model = model(job.model)
        model.failed[code]?.increment()
        if metered && job.cost > 0 { model.creditsRefunded.increment(by: job.cost) }
    }
}
