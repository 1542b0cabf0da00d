import Foundation
import NanoBananaAPI

/// The webhook outbox: the events the job stores write with each change of a job
/// (``WebhookPlan``), and what the dispatcher and the routes do with them. Any node may
/// deliver; a claimed attempt belongs to one deliverer until its lease runs out.
public protocol WebhookOutbox: Sendable {
    /// Takes up to `limit` PENDING events that are due, oldest first: each gets its
    /// `attempts` counted up (the number of the attempt now claimed) and is not due again
    /// until `now + lease`, so that a deliverer that dies lets it come due again.
    func claimDue(limit: Int, lease: TimeInterval) async throws -> [WebhookEvent]

    /// Records an attempt of a claimed event and where the event now stands (with
    /// `nextAttemptAt` when PENDING); the first recorded `payload` is kept for good. Does
    /// nothing and returns `false` unless the event's attempts still equal
    /// `attempt.number` (a deliverer whose lease ran out was overtaken).
    func record(
        _ attempt: WebhookAttempt, payload: String?, state: WebhookEventState, nextAttemptAt: Date?
    ) async throws -> Bool

    /// The job's events with their attempts, oldest first.
    func deliveries(jobID: String) async throws -> [WebhookDelivery]

    /// The key's newest events sent to `url`, newest first, with their attempts.
    func recentEvents(keyID: String, url: String, limit: Int) async throws -> [WebhookDelivery]

    /// Sends the job's final events (completed or failed) again: PENDING and due now, with
    /// the same id (attempts go on counting). Empty when the job has none.
    func redeliver(jobID: String) async throws -> [WebhookEvent]

    /// When the earliest PENDING event is due; `nil` when none is pending.
    func nextDue() async throws -> Date?
}

/// The key-side of webhooks: a key's default webhooks (its registry) and its signing
/// secret. Changes to the registry are changes of the key (caches forget it).
public protocol WebhookRegistry: Sendable {
    /// Adds a default webhook to the key `keyID`.
    func addWebhook(keyID: String, url: String, events: [WebhookEventType]) async throws -> WebhookSubscription
    /// Changes one of the key's webhooks; ``APIKeyError/webhookNotFound(_:)`` when the key
    /// has none with that id.
    func updateWebhook(
        keyID: String, id: String, url: String?, events: [WebhookEventType]?, active: Bool?
    ) async throws -> WebhookSubscription
    /// The key's webhooks, active or not, oldest first.
    func webhooks(keyID: String) async throws -> [WebhookSubscription]
    /// The key's (by id or name) signing secret, `whsec_…`: made the first time it is asked
    /// for, or anew with `rotate`.
    func webhookSecret(_ reference: String, rotate: Bool) async throws -> String
}

/// A key store whose webhooks are one list per key, changed in one transaction
/// (``WebhookSubscriptions``): the registry's changes, once for both stores.
protocol WebhookListStore: WebhookRegistry {
    var clock: any WallClock { get }
    /// Reads the key's list (its row locked), changes it with `change` and writes it back,
    /// as a change of the key.
    func changingWebhooks(
        keyID: String,
        _ change: @escaping @Sendable (inout [WebhookSubscription]) throws -> WebhookSubscription
    ) async throws -> WebhookSubscription
}

extension WebhookListStore {
    public func addWebhook(keyID: String, url: String, events: [WebhookEventType]) async throws -> WebhookSubscription {
        let now = clock.now()
        return try await changingWebhooks(keyID: keyID) { list in
            try WebhookSubscriptions.add(url, events: events, to: &list, now: now)
        }
    }

    public func updateWebhook(
        keyID: String, id: String, url: String?, events: [WebhookEventType]?, active: Bool?
    ) async throws -> WebhookSubscription {
        try await changingWebhooks(keyID: keyID) { list in
            try WebhookSubscriptions.update(id, url: url, events: events, active: active, in: &list)
        }
    }
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
public enum WebhookSecret {
    public static let prefix = "whsec_"

    public static func generate() -> String {
        prefix + Data(SigningSecret.candidate()).base64EncodedString()
    }

    /// The secret's key bytes (the base64 after the prefix); `nil` when it is not a secret.
    public static func keyBytes(_ secret: String) -> [UInt8]? {
        WebhookSignature.key(fromSecret: secret)
    }
}
