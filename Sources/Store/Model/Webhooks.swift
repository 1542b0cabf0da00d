import Foundation

/// What a webhook announces about a request.
public enum WebhookEventType: String, Sendable, Equatable, Codable, CaseIterable, Comparable {
    case processing
    case completed
    case failed

    /// The `type` of the delivered body: `request.completed`, …
    public var wireType: String { "request." + rawValue }

    /// What a webhook gets when it names no events: the final ones.
    public static let final: [WebhookEventType] = [.completed, .failed]

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Where one job's events go: decided at submit (the request's own `webhook`, else the
/// key's active subscriptions) and stored with the job.
public struct WebhookTarget: Sendable, Equatable, Codable {
    public var url: String
    public var events: [WebhookEventType]

    public init(url: String, events: [WebhookEventType] = WebhookEventType.final) {
        self.url = url
        self.events = Array(Set(events)).sorted()
    }
}

/// One of a key's default webhooks (`keys create --webhook`, the `/webhook/*` routes).
public struct WebhookSubscription: Sendable, Equatable, Codable {
    /// `wh_` and 16 hex digits.
    public var id: String
    public var url: String
    public var events: [WebhookEventType]
    /// An inactive subscription is kept (its id still answers) but receives nothing.
    public var active: Bool
    public var createdAt: Date

    public init(id: String, url: String, events: [WebhookEventType], active: Bool = true, createdAt: Date) {
        self.id = id
        self.url = url
        self.events = Array(Set(events)).sorted()
        self.active = active
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, url, events, active
        case createdAt = "created_at"
    }

    /// `wh_` and 16 lowercase hex digits.
    static func newID() -> String {
        "wh_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16)).lowercased()
    }
}

/// Where an outbox event stands.
public enum WebhookEventState: String, Sendable, Equatable, CaseIterable {
    /// Waiting for its (next) attempt at `nextAttemptAt`.
    case pending = "PENDING"
    /// A 2xx answer was received.
    case delivered = "DELIVERED"
    /// The receiver answered 410 Gone: no more attempts.
    case gone = "GONE"
    /// Every attempt of the retry schedule failed.
    case exhausted = "EXHAUSTED"
}

/// An event the store writes to the outbox in the transaction that changes its job.
public struct NewWebhookEvent: Sendable, Equatable {
    /// `msg_…`: the `webhook-id`, the same for every attempt.
    public var id: String
    public var jobID: String
    public var keyID: String
    public var type: WebhookEventType
    public var url: String
    public var createdAt: Date
}

/// One event of the outbox, with where it stands.
public struct WebhookEvent: Sendable, Equatable {
    public var id: String
    public var jobID: String
    public var keyID: String
    public var type: WebhookEventType
    public var url: String
    public var createdAt: Date
    /// The body, rendered at the first attempt and sent unchanged by every later one.
    public var payload: String?
    public var state: WebhookEventState
    /// Attempts started so far; for a claimed event, the number of the attempt claimed.
    public var attempts: Int
    /// When the next attempt is due (PENDING only).
    public var nextAttemptAt: Date?
}

/// One attempt to deliver an event.
public struct WebhookAttempt: Sendable, Equatable {
    public var eventID: String
    /// 1 for the first attempt.
    public var number: Int
    public var at: Date
    /// The receiver's HTTP status, when it answered.
    public var statusCode: Int?
    /// Why there was no answer (timeout, connection refused, refused address).
    public var error: String?
    public var latencyMilliseconds: Int

    public init(eventID: String, number: Int, at: Date, statusCode: Int?, error: String?, latencyMilliseconds: Int) {
        self.eventID = eventID
        self.number = number
        self.at = at
        self.statusCode = statusCode
        self.error = error
        self.latencyMilliseconds = latencyMilliseconds
    }
}

/// An event and every attempt made for it, oldest first.
public struct WebhookDelivery: Sendable, Equatable {
    public var event: WebhookEvent
    public var attempts: [WebhookAttempt]
}
