import Engines
import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// Where a submitted request's webhook events go: `?webhook=<url>` (checked at submit: an
/// http(s) URL of at most 2,048 characters whose host resolves to no private or reserved
/// address unless allowed) with `?webhook_events=processing,completed,failed` (default:
/// completed, failed); without `webhook`, the key's active default webhooks (their events,
/// or those `webhook_events` names).
struct WebhookRequestTargets: Sendable {
    let guarded: GuardedHTTPClient

    /// The query parameters a submit takes: these two, nothing else.
    static let queryNames = ["webhook", "webhook_events"]

    func targets(for request: Request, key: APIKey) async throws -> [WebhookTarget]? {
        let query = request.uri.queryParameters
        // An unknown one is refused, as an unknown body field is: a misspelt `webhook`
        // would otherwise submit a request that reports to nobody.
        if let unknown = query.map({ String($0.key) }).sorted().first(where: { !Self.queryNames.contains($0) }) {
            throw APIError.badRequest(
                "Unknown query parameter '\(ErrorBody.echo(unknown))'. A submit takes: \(Self.queryNames.joined(separator: ", "))."
            )
        }
        let events = try query["webhook_events"].map { try Self.events(String($0)) }
        guard let url = query["webhook"].map(String.init) else {
            let defaults = key.defaultWebhookTargets.map { target in
                WebhookTarget(url: target.url, events: events ?? target.events)
            }
            return defaults.isEmpty ? nil : defaults
        }
        try await check(url)
        return [WebhookTarget(url: url, events: events ?? WebhookEventType.final)]
    }

    /// Refuses (400 naming `webhook`) a URL that is not one, or whose host is private.
    func check(_ url: String) async throws {
        if let problem = WebhookURLRule.problem(with: url) {
            throw APIError.badRequest("Invalid 'webhook': \(problem).")
        }
        guard let parsed = URL(string: url) else { throw APIError.badRequest("Invalid 'webhook': it is not a URL.") }
        do {
            _ = try await guarded.check(parsed)
        } catch ReferenceFetchError.forbiddenAddress(let host) {
            throw APIError.badRequest(
                "Invalid 'webhook': the host '\(host)' resolves to a private or reserved address, which this server does not deliver to."
            )
        } catch ReferenceFetchError.unresolvable(let host) {
            throw APIError.badRequest("Invalid 'webhook': the host '\(host)' does not resolve.")
        } catch let error as ReferenceFetchError {
            throw APIError.badRequest("Invalid 'webhook': \(error.description)")
        }
    }

    /// `processing,completed,failed` (or `request.completed`, …), at least one; exactly
    /// these names, as the OpenAPI document states them.
    static func events(_ text: String) throws -> [WebhookEventType] {
        let events = try text.split(separator: ",", omittingEmptySubsequences: false).map { try event(String($0)) }
        guard !events.isEmpty else {
            throw APIError.badRequest("Invalid 'webhook_events': name processing, completed or failed.")
        }
        return events
    }

    /// `processing`, `completed` or `failed`, `request.` before it or not; a 400 naming
    /// `field` otherwise.
    static func event(_ name: String, field: String = "webhook_events") throws -> WebhookEventType {
        let bare = name.hasPrefix("request.") ? String(name.dropFirst("request.".count)) : name
        guard let event = WebhookEventType(rawValue: bare) else {
            throw APIError.badRequest(
                "Invalid '\(field)' '\(ErrorBody.echo(String(name.prefix(40))))': use processing, completed and failed, separated by commas."
            )
        }
        return event
    }
}
