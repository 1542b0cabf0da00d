import Crypto
import Foundation

/// An API key as stored: never the secret itself, only its SHA-256.
public struct APIKey: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The first characters of the secret, to recognise a key in a list.
    public var prefix: String
    public var createdAt: Date
    public var revokedAt: Date?
    /// The credit balance; `nil` for an unmetered key.
    public var credits: Int?
    /// `admin` keys may use the admin routes.
    public var role: APIKeyRole = .user
    /// The model slugs the key may use; `nil`: all.
    public var allowedModels: [String]?
    /// A disabled key is refused with 403 until enabled again (a revoked one, 401, for good).
    public var isDisabled = false
    /// The key's own limits; `nil` uses the server's defaults.
    public var requestsPerMinute: Int?
    public var burst: Int?
    public var maxInFlight: Int?
    /// The key's default webhooks, active or not (``WebhookSubscriptions``).
    public var webhooks: [WebhookSubscription] = []

    public var isRevoked: Bool { revokedAt != nil }

    /// Where a request of this key that names no webhook of its own sends its events.
    public var defaultWebhookTargets: [WebhookTarget] {
        webhooks.filter(\.active).map { WebhookTarget(url: $0.url, events: $0.events) }
    }
}

/// What a new key is to be: everything `keys create` and `POST /admin/keys` can say, made
/// in one transaction.
public struct APIKeySpec: Sendable, Equatable {
    public var name: String
    /// A starting balance, making the key metered; `nil`: unmetered.
    public var credits: Int?
    public var role: APIKeyRole
    /// The model slugs the key may use; `nil`: all.
    public var allowedModels: [String]?
    public var isDisabled: Bool
    /// The key's own limits; `nil` uses the server's defaults, 0 means none.
    public var requestsPerMinute: Int?
    public var burst: Int?
    public var maxInFlight: Int?
    /// A default webhook for the key's requests (the final events); `nil`: none.
    public var webhookURL: String?

    public init(
        name: String, credits: Int? = nil, role: APIKeyRole = .user, allowedModels: [String]? = nil,
        isDisabled: Bool = false, requestsPerMinute: Int? = nil, burst: Int? = nil, maxInFlight: Int? = nil,
        webhookURL: String? = nil
    ) {
        self.webhookURL = webhookURL
        self.name = name
        self.credits = credits
        self.role = role
        self.allowedModels = allowedModels
        self.isDisabled = isDisabled
        self.requestsPerMinute = requestsPerMinute
        self.burst = burst
        self.maxInFlight = maxInFlight
    }
}

/// A change to a key's settings; `nil` leaves a setting as it is.
public struct APIKeyChange: Sendable, Equatable {
    public var role: APIKeyRole?
    /// `.some(nil)` lifts the restriction.
    public var allowedModels: [String]??
    public var disabled: Bool?
    /// 0 means no limit.
    public var requestsPerMinute: Int?
    public var burst: Int?
    public var maxInFlight: Int?
    /// Replaces the key's active webhooks by one for this URL (the final events);
    /// `.some(nil)` deactivates them all.
    public var webhookURL: String??

    public init(
        role: APIKeyRole? = nil, allowedModels: [String]?? = nil, disabled: Bool? = nil,
        requestsPerMinute: Int? = nil, burst: Int? = nil, maxInFlight: Int? = nil, webhookURL: String?? = nil
    ) {
        self.webhookURL = webhookURL
        self.role = role
        self.allowedModels = allowedModels
        self.disabled = disabled
        self.requestsPerMinute = requestsPerMinute
        self.burst = burst
        self.maxInFlight = maxInFlight
    }
}

/// A freshly created key: the record, and the secret shown to its owner exactly once.
public struct CreatedAPIKey: Sendable {
    public var key: APIKey
    public var secret: String
}

/// Making and hashing key secrets.
public enum APIKeySecret {
    /// A new secret: `nb_` and 43 characters of base64url from 32 random bytes.
    public static func generate() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        return "nb_" + base64URL(bytes)
    }

    /// The stored form of a secret: lowercase hex of its SHA-256.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Array(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Why a key operation was refused.
public enum APIKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    /// Several keys answer to a name (only keys made before names were unique can).
    case ambiguous(String)
    case invalidName(String)
    /// A key that is not revoked already has this name.
    case nameTaken(String)
    case invalidAmount(Int)
    /// A top-up that would take the balance past ``StoreMaxima/credits``.
    case balanceTooLarge(balance: Int, amount: Int, maximum: Int)
    case invalidLimit(Int)
    /// A webhook URL that is not an http(s) URL of at most 2,048 characters.
    case invalidWebhookURL(String, reason: String)
    /// No webhook of the key's has this id.
    case webhookNotFound(String)
    /// A key has at most ``WebhookSubscriptions/maximum`` webhooks.
    case tooManyWebhooks(Int)

    public var description: String {
        switch self {
        case .notFound(let reference): "No API key with id or name '\(Self.visible(reference))'."
        case .ambiguous(let name): "Several keys are named '\(Self.visible(name))': use the key's id instead."
        case .invalidName(let name):
            "Invalid key name '\(Self.visible(name))': use 1 to 64 printable characters (no control or formatting characters), not a key id."
        case .nameTaken(let name):
            "A key named '\(Self.visible(name))' already exists: choose another name, or revoke that key first."
        case .invalidAmount(let amount):
            "Invalid amount \(amount): use a positive number of credits, at most \(StoreMaxima.credits)."
        case .balanceTooLarge(let balance, let amount, let maximum):
            "Refused: adding \(amount) credits to the balance of \(balance) would pass the maximum balance of \(maximum) credits."
        case .invalidLimit(let value): "Invalid limit \(value): use 0 (no limit) to \(StoreMaxima.limit)."
        case .invalidWebhookURL(let url, let reason):
            "Invalid webhook URL '\(Self.visible(url))': \(reason)."
        case .webhookNotFound(let id): "No webhook with id '\(Self.visible(id))' for this key."
        case .tooManyWebhooks(let maximum):
            "Refused: a key has at most \(maximum) webhooks; update or deactivate one instead."
        }
    }

    /// A name or reference as an error quotes it: at most 64 characters (then "…"), with
    /// invisible and line-breaking characters written as `\u{…}`, so that an error message
    /// can be neither flooded nor reordered or split by them.
    static func visible(_ name: String) -> String {
        let hidden: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]
        let shown = name.prefix(64)
        let cut = shown.endIndex == name.endIndex ? "" : "…"
        return shown.unicodeScalars.map { scalar in
            hidden.contains(scalar.properties.generalCategory)
                ? "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}" : String(scalar)
        }.joined() + cut
    }
}

/// What a key may do beyond generating images.
public enum APIKeyRole: String, Sendable, Equatable, Codable {
    case user
    case admin
}
