import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// The webhook routes of a key:
///
/// - `GET /v2/requests/{id}/webhooks`: the request's events, each with its attempts;
/// - `POST /v2/requests/{id}/webhooks/redeliver`: its final event sent again (same id);
/// - `GET /v2/webhooks/secret`: the key's signing secret, `{"key": "whsec_…"}`;
/// - the segmind SDK's registry of the key's default webhooks, under `/webhook`:
///   `POST add`, `POST update`, `GET get`, `GET inactive?webhook_id=`,
///   `GET dispatch-logs?webhook_id=`.
struct WebhooksController: Sendable {
    let views: JobViews
    let outbox: any WebhookOutbox
    let registry: any WebhookRegistry

    func addRoutes(v2: RouterGroup<APIRequestContext>, registry group: RouterGroup<APIRequestContext>) {
        v2.get("requests/:id/webhooks", use: deliveries)
        v2.post("requests/:id/webhooks/redeliver", use: redeliver)
        v2.get("webhooks/secret", use: secret)
        group.post("add", use: add)
        group.post("update", use: update)
        group.get("get", use: list)
        group.get("inactive", use: deactivate)
        group.get("dispatch-logs", use: dispatchLogs)
    }

    // MARK: - A request's deliveries

    @Sendable func deliveries(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let job = try await views.visibleJob(id: try context.parameters.require("id"), key: key)
        let deliveries = try await outbox.deliveries(jobID: job.id)
        return .json(WebhookDeliveriesBody(requestID: job.id, events: deliveries.map(WebhookEventBody.init)))
    }

    @Sendable func redeliver(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let job = try await views.visibleJob(id: try context.parameters.require("id"), key: key)
        let events = try await outbox.redeliver(jobID: job.id)
        guard !events.isEmpty else {
            throw APIError(
                .conflict,
                "Request '\(job.id)' has no final webhook event to send again: it has not finished, or it has no webhook."
            )
        }
        let deliveries = try await outbox.deliveries(jobID: job.id).filter { delivery in
            events.contains { $0.id == delivery.event.id }
        }
        return .json(
            WebhookDeliveriesBody(requestID: job.id, events: deliveries.map(WebhookEventBody.init)), status: .accepted)
    }

    @Sendable func secret(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        return .json(["key": try await registry.webhookSecret(key.id, rotate: false)])
    }

    // MARK: - The segmind registry

    struct Subscribe: StrictJSONBody {
        struct Event: Decodable {
            var types: [String]
        }
        var webhookID: String?
        var webhookURL: String?
        var event: Event?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case webhookID = "webhook_id"
            case webhookURL = "webhook_url"
            case event
        }
    }

    @Sendable func add(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let body = try await request.decodeSmallJSON(Subscribe.self)
        guard let url = body.webhookURL else { throw APIError.badRequest("'webhook_url' is required.") }
        let events = try body.event.map { try Self.events($0.types) } ?? []
        let added = try await registry.addWebhook(keyID: key.id, url: url, events: events)
        return .json(SubscriptionView(added))
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let body = try await request.decodeSmallJSON(Subscribe.self)
        guard let id = body.webhookID else { throw APIError.badRequest("'webhook_id' is required.") }
        let events = try body.event.map { try Self.events($0.types) }
        let updated = try await registry.updateWebhook(
            keyID: key.id, id: id, url: body.webhookURL, events: events, active: nil)
        return .json(SubscriptionView(updated))
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        return .json(["webhooks": try await registry.webhooks(keyID: key.id).map(SubscriptionView.init)])
    }

    @Sendable func deactivate(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let updated = try await registry.updateWebhook(
            keyID: key.id, id: try Self.webhookID(request), url: nil, events: nil, active: false)
        return .json(SubscriptionView(updated))
    }

    /// The subscription's URL and the key's events sent to it, newest requests first.
    @Sendable func dispatchLogs(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let id = try Self.webhookID(request)
        guard let subscription = try await registry.webhooks(keyID: key.id).first(where: { $0.id == id }) else {
            throw APIKeyError.webhookNotFound(id)
        }
        let events = try await outbox.recentEvents(keyID: key.id, url: subscription.url, limit: 100)
        return .json(DispatchLogsView(webhookID: id, logs: events.map(WebhookEventBody.init)))
    }

    /// The body's `event.types`: at least one, each a name ``WebhookRequestTargets`` takes.
    static func events(_ types: [String]) throws -> [WebhookEventType] {
        guard !types.isEmpty else {
            throw APIError.badRequest("Invalid 'event.types': name processing, completed or failed.")
        }
        return try types.map { try WebhookRequestTargets.event($0, field: "event.types") }
    }

    static func webhookID(_ request: Request) throws -> String {
        guard let id = request.uri.queryParameters["webhook_id"].map(String.init), !id.isEmpty else {
            throw APIError.badRequest("'webhook_id' is required.")
        }
        return id
    }
}
