import Foundation

/// The changes to a key's default webhooks, decided with no I/O: each store reads the
/// key's list with its row, applies one of these and writes the list back in the same
/// transaction (announced like any change of a key, so that caches forget the old list).
public enum WebhookSubscriptions {
    /// Webhooks one key may have, active or not.
    public static let maximum = 20

    /// Adds a subscription for `url` and `events` (the final ones when empty).
    static func add(
        _ url: String, events: [WebhookEventType], to list: inout [WebhookSubscription], now: Date
    ) throws(APIKeyError) -> WebhookSubscription {
        try check(url)
        guard list.count < maximum else { throw .tooManyWebhooks(maximum) }
        let subscription = WebhookSubscription(
            id: WebhookSubscription.newID(), url: url, events: events.isEmpty ? WebhookEventType.final : events,
            createdAt: now)
        list.append(subscription)
        return subscription
    }

    /// Changes the subscription `id`: its URL, its events, whether it is active (`nil`
    /// leaves one as it is).
    static func update(
        _ id: String, url: String?, events: [WebhookEventType]?, active: Bool?, in list: inout [WebhookSubscription]
    ) throws(APIKeyError) -> WebhookSubscription {
        guard let index = list.firstIndex(where: { $0.id == id }) else { throw .webhookNotFound(id) }
        if let url {
            try check(url)
            list[index].url = url
        }
        if let events, !events.isEmpty { list[index].events = Array(Set(events)).sorted() }
        if let active { list[index].active = active }
        return list[index]
    }

    /// `keys create/update --webhook URL`: the active subscriptions give way to one for
    /// `url` with the final events; `nil` deactivates them all.
    static func replaceActive(with url: String?, in list: inout [WebhookSubscription], now: Date) throws(APIKeyError) {
        if let url { try check(url) }
        for index in list.indices { list[index].active = false }
        // Deactivated ones go first when the list is full, oldest first.
        while list.count >= maximum, let index = list.firstIndex(where: { !$0.active }) { list.remove(at: index) }
        if let url { _ = try add(url, events: WebhookEventType.final, to: &list, now: now) }
    }

    static func check(_ url: String) throws(APIKeyError) {
        if let problem = WebhookURLRule.problem(with: url) { throw .invalidWebhookURL(url, reason: problem) }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// The stored form of a key's list: JSON, or `nil` when empty.
    static func stored(_ list: [WebhookSubscription]) -> String? {
        guard !list.isEmpty else { return nil }
        return (try? encoder.encode(list)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The list as stored; empty when none (or unreadable).
    static func list(stored json: String?) -> [WebhookSubscription] {
        guard let json else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return (try? decoder.decode([WebhookSubscription].self, from: Data(json.utf8))) ?? []
    }
}
