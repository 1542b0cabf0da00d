import Foundation

/// A key about to be created, decided before any store sees it: the spec checked, an id
/// and a secret made, and the secret's hash, which is all a store keeps of it.
struct APIKeyDraft: Sendable {
    let key: APIKey
    let secret: String
    /// What the store keeps instead of the secret.
    var hash: String { APIKeySecret.hash(secret) }

    init(_ spec: APIKeySpec, now: Date) throws(APIKeyError) {
        let name = spec.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.isValid(name: name) else { throw .invalidName(spec.name) }
        if let credits = spec.credits, !(0...StoreMaxima.credits).contains(credits) { throw .invalidAmount(credits) }
        try APIKeyLimits.check([spec.requestsPerMinute, spec.burst, spec.maxInFlight])
        secret = APIKeySecret.generate()
        var webhooks: [WebhookSubscription] = []
        if let url = spec.webhookURL { try WebhookSubscriptions.replaceActive(with: url, in: &webhooks, now: now) }
        key = APIKey(
            id: Self.newID(), name: name, prefix: String(secret.prefix(10)), createdAt: now, revokedAt: nil,
            credits: spec.credits, role: spec.role, allowedModels: spec.allowedModels, isDisabled: spec.isDisabled,
            requestsPerMinute: spec.requestsPerMinute, burst: spec.burst, maxInFlight: spec.maxInFlight,
            webhooks: webhooks)
    }

    /// `key_` and 16 lowercase hex digits.
    static func newID() -> String {
        "key_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16)).lowercased()
    }

    /// A name (already trimmed) is 1 to 64 characters (Unicode scalars, as JSON Schema
    /// counts them) with nothing invisible or line-breaking that could disguise it in a list
    /// (control and format characters such as U+202E or U+200F, line and paragraph
    /// separators), and does not look like a key id, which lookups try first.
    static func isValid(name: String) -> Bool {
        (1...64).contains(name.unicodeScalars.count) && !name.contains(where: \.isNewline)
            && APIKeyError.visible(name) == name && !looksLikeID(name)
    }

    static func looksLikeID(_ text: String) -> Bool {
        text.hasPrefix("key_") && text.count == 20 && text.dropFirst(4).allSatisfy(\.isHexDigit)
    }
}

extension APIKeyChange {
    /// Refuses negative limits and a webhook URL that is not one.
    func check() throws(APIKeyError) {
        try APIKeyLimits.check([requestsPerMinute, burst, maxInFlight])
        if case .some(.some(let url)) = webhookURL { try WebhookSubscriptions.check(url) }
    }

    /// Whether the change touches the rate limits, which restarts the key's token bucket.
    var touchesLimits: Bool { requestsPerMinute != nil || burst != nil || maxInFlight != nil }

    /// The key with this change made.
    func applied(to key: APIKey, now: Date) throws(APIKeyError) -> APIKey {
        var key = key
        if let webhookURL { try WebhookSubscriptions.replaceActive(with: webhookURL, in: &key.webhooks, now: now) }
        if let role { key.role = role }
        if let allowedModels { key.allowedModels = allowedModels }
        if let disabled { key.isDisabled = disabled }
        if let requestsPerMinute { key.requestsPerMinute = requestsPerMinute }
        if let burst { key.burst = burst }
        if let maxInFlight { key.maxInFlight = maxInFlight }
        return key
    }
}

/// The rule for a key's own limits: 0 (no limit) to ``StoreMaxima/limit``.
enum APIKeyLimits {
    static func check(_ values: [Int?]) throws(APIKeyError) {
        for case let value? in values where !(0...StoreMaxima.limit).contains(value) { throw .invalidLimit(value) }
    }
}

/// How a key is named in a command: by id, or by name. Names are unique among keys that
/// are not revoked, so a name means its live key, or else the one revoked key that had it.
/// The stores read the candidates (``nameCandidates`` of them, live ones first); this decides.
enum APIKeyLookup {
    /// How many keys with the name a store reads: enough to tell one from several.
    static let nameCandidates = 2

    static func resolve(_ reference: String, byID: [APIKey], byName: () throws -> [APIKey]) throws -> APIKey {
        if let key = byID.first { return key }
        let named = try byName()
        let live = named.filter { !$0.isRevoked }
        let matches = live.isEmpty ? named : live
        guard matches.count <= 1 else { throw APIKeyError.ambiguous(reference) }
        guard let key = matches.first else { throw APIKeyError.notFound(reference) }
        return key
    }

    static func resolve(
        _ reference: String, byID: [APIKey], byName: () async throws -> [APIKey]
    ) async throws -> APIKey {
        let named = byID.isEmpty ? try await byName() : []
        return try resolve(reference, byID: byID, byName: { named })
    }
}

extension APIKey {
    /// The allowed models as a store keeps them: one comma-separated column.
    var storedModels: String? { allowedModels?.joined(separator: ",") }

    /// The webhooks as a store keeps them: one JSON column.
    var storedWebhooks: String? { WebhookSubscriptions.stored(webhooks) }

    static func models(stored: String?) -> [String]? {
        stored.map { $0.split(separator: ",").map(String.init) }
    }
}
