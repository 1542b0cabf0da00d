import Foundation
import NanoBananaAPI

/// Which webhook events a job's change of state makes, decided with no I/O; each store
/// writes them to its outbox in the transaction that writes the change.
///
/// - `processing` when a worker first claims the job (QUEUED → PROCESSING, attempt 1);
/// - `completed` or `failed` when it ends (a cancellation is `failed`).
///
/// One event per target whose events include the type. A job without targets makes none.
public enum WebhookPlan {
    /// The events of `job`'s change from `previous` to its current status, at `now`.
    public static func events(
        for job: JobRecord, from previous: JobStatus, now: Date, newID: () -> String = WebhookPlan.newEventID
    ) -> [NewWebhookEvent] {
        guard let targets = job.webhooks, !targets.isEmpty, let type = type(of: job, from: previous) else { return [] }
        return targets.filter { $0.events.contains(type) }.map { target in
            NewWebhookEvent(
                id: newID(), jobID: job.id, keyID: job.keyID, type: type, url: target.url, createdAt: now)
        }
    }

    /// The event type a change makes, if any.
    static func type(of job: JobRecord, from previous: JobStatus) -> WebhookEventType? {
        guard job.status != previous else { return nil }
        switch job.status {
        case .processing: return previous == .queued && job.state.attempts == 1 ? .processing : nil
        case .completed: return .completed
        case .failed: return .failed
        case .queued: return nil
        }
    }

    /// `msg_` and 24 lowercase hex digits: the `webhook-id` of Standard Webhooks.
    public static func newEventID() -> String {
        "msg_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24)).lowercased()
    }
}

/// The rules for a webhook URL that need no network: http or https, a host, no
/// credentials, at most ``maxLength`` characters, the plain shape of ``pattern``. (The
/// address checks are the server's.)
public enum WebhookURLRule {
    public static let maxLength = 2048

    /// In plain ASCII: a host name, an IPv4 address or a bracketed IPv6 one, a port, a path
    /// (`%` escapes allowed) and a query; no fragment. The OpenAPI document's `WebhookURL`
    /// states the same pattern (a contract test holds the two together).
    public static let pattern =
        #"^[Hh][Tt][Tt][Pp][Ss]?://"#
        + #"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])"#
        + #"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"#
        + #"(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*(?:\?(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$"#

    /// Why `text` cannot be a webhook URL; `nil` when it can.
    public static func problem(with text: String) -> String? {
        guard text.count <= maxLength else { return "it is longer than \(maxLength) characters" }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { return "it is not a URL" }
        guard scheme == "http" || scheme == "https" else { return "only http and https URLs are allowed" }
        guard let host = url.host, !host.isEmpty else { return "it has no host" }
        guard url.user == nil, url.password == nil else { return "it must not carry credentials" }
        if let port = url.port, !(1...65535).contains(port) { return "its port is out of range" }
        guard text.range(of: pattern, options: .regularExpression) != nil else {
            return "it is not a plain URL (a host name or address, a port, a path and a query, in ASCII)"
        }
        return nil
    }
}

extension Array where Element == WebhookTarget {
    /// The stored form (JSON), or `nil` for no targets.
    var stored: String? {
        guard !isEmpty else { return nil }
        return (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }

    init?(stored json: String?) {
        guard let json, let targets = try? JSONDecoder().decode([WebhookTarget].self, from: Data(json.utf8)),
            !targets.isEmpty
        else { return nil }
        self = targets
    }
}
