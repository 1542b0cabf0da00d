import Foundation
import NanoBananaAPI

/// Where a submitted request's webhook events go: `?webhook=` and `?webhook_events=`.
public struct WebhookRequest: Sendable, Equatable {
    /// The receiver, http(s).
    public var url: String
    /// `processing`, `completed`, `failed`; the server's default (the final ones) when empty.
    public var events: [String]

    public init(url: String, events: [String] = []) {
        self.url = url
        self.events = events
    }

    /// The query string, with its leading `?`.
    var query: String {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "webhook", value: url)]
        if !events.isEmpty {
            components.queryItems?.append(URLQueryItem(name: "webhook_events", value: events.joined(separator: ",")))
        }
        // URLComponents leaves `&`, `=` and `+` inside values as they are.
        let encoded = (components.queryItems ?? []).map { item in
            item.name + "=" + (item.value ?? "").addingPercentEncoding(withAllowedCharacters: Self.valueCharacters)!
        }
        return "?" + encoded.joined(separator: "&")
    }

    private static let valueCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
}

/// Checks a webhook delivery received from the server.
public enum Webhook {
    /// Verifies a delivery's Standard Webhooks signature with the key's secret (`whsec_…`,
    /// from ``Client/webhookSecret()``) and returns its message.
    ///
    /// - Parameters:
    ///   - payload: the body exactly as received.
    ///   - headers: the request's headers (`webhook-id`, `webhook-timestamp`,
    ///     `webhook-signature`; names in any case).
    ///   - tolerance: how far the timestamp may be from now, in seconds (replays).
    /// - Throws: ``WebhookSignature/Failure``, or a `DecodingError` for a body that is not a message.
    public static func verify(
        payload: [UInt8], headers: [String: String], secret: String, tolerance: TimeInterval = 300
    ) throws -> WebhookMessage {
        try WebhookSignature.verify(body: payload, headers: headers, secret: secret, tolerance: tolerance)
        return try JSONDecoder().decode(WebhookMessage.self, from: Data(payload))
    }
}
