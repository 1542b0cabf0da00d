import Foundation
import NanoBananaAPI
import Store

extension WebhookEventBody {
    /// An event of the outbox and its attempts, as the routes show it.
    init(_ delivery: WebhookDelivery) {
        let event = delivery.event
        self.init(
            id: event.id, requestID: event.jobID, type: event.type.wireType, url: event.url,
            state: event.state.rawValue, createdAt: JobViews.timestamp(event.createdAt),
            nextAttemptAt: event.state == .pending ? event.nextAttemptAt.map(JobViews.timestamp) : nil,
            attempts: delivery.attempts.map { attempt in
                WebhookAttemptBody(
                    number: attempt.number, at: JobViews.timestamp(attempt.at), statusCode: attempt.statusCode,
                    error: attempt.error, latencyMS: attempt.latencyMilliseconds)
            })
    }
}

/// One of a key's default webhooks, as the segmind SDK's registry shows it.
struct SubscriptionView: Encodable {
    struct Event: Encodable {
        var types: [String]
    }
    var webhookID: String
    var webhookURL: String
    var event: Event
    var active: Bool
    var createdAt: String

    init(_ subscription: WebhookSubscription) {
        webhookID = subscription.id
        webhookURL = subscription.url
        event = Event(types: subscription.events.map(\.rawValue))
        active = subscription.active
        createdAt = JobViews.timestamp(subscription.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case event, active
        case webhookID = "webhook_id"
        case webhookURL = "webhook_url"
        case createdAt = "created_at"
    }
}

/// `GET /webhook/dispatch-logs`.
struct DispatchLogsView: Encodable {
    var webhookID: String
    var logs: [WebhookEventBody]

    enum CodingKeys: String, CodingKey {
        case logs
        case webhookID = "webhook_id"
    }
}
