import CoreMetrics
import Engines
import Metrics

/// `nano_banana_webhook_deliveries_total{outcome}`: one per delivery attempt, by what the
/// retry policy made of its answer (`delivered`, `gone`, `exhausted`, `retry`). Made once,
/// so that counting takes no lock.
struct WebhookInstruments: Sendable {
    private let deliveries: [WebhookRetryPolicy.Outcome: Counter]

    init(factory: any MetricsFactory) {
        deliveries = Dictionary(
            uniqueKeysWithValues: WebhookRetryPolicy.Outcome.allCases.map { outcome in
                (
                    outcome,
                    Counter(
                        label: MetricName.webhookDeliveries, dimensions: [("outcome", outcome.rawValue)],
                        factory: factory)
                )
            })
    }

    /// An attempt was decided.
    func attempted(_ decision: WebhookRetryPolicy.Decision) {
        deliveries[decision.outcome]?.increment()
    }
}
