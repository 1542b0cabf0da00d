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

    public var isRevoked: Bool { revokedAt != nil }
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
    case ambiguous(String)
    case invalidName(String)
    case invalidAmount(Int)

    public var description: String {
        switch self {
        case .notFound(let reference): "No API key with id or name '\(reference)'."
        case .ambiguous(let name): "Several keys are named '\(name)': revoke by id instead."
        case .invalidName(let name): "Invalid key name '\(name)': use 1 to 64 printable characters."
        case .invalidAmount(let amount): "Invalid amount \(amount): use a positive number of credits."
        }
    }
}

/// Where API keys live.
public protocol APIKeyStore: Sendable {
    /// A new key; with `credits`, a metered one starting with that balance.
    func create(name: String, credits: Int?) async throws -> CreatedAPIKey
    /// Adds credits to a key (by id or unique name); returns it with its new balance.
    func topUp(_ reference: String, amount: Int) async throws -> APIKey
    /// The key (by id or unique name) and its credit history, oldest first.
    func show(_ reference: String) async throws -> (key: APIKey, ledger: [CreditLedgerEntry])
    /// The current balance of a key; `nil` when unmetered.
    func balance(keyID: String) async throws -> Int?
    /// Sets a key's role, its allowed models (`.some(nil)` clears the restriction) and
    /// whether it is disabled; `nil` arguments leave a setting as it is.
    func setAccess(
        _ reference: String, role: APIKeyRole?, allowedModels: [String]??, disabled: Bool?
    ) async throws
        -> APIKey
    /// Sets a key's own limits (`nil` leaves one at the server's default; 0 means none).
    func setLimits(_ reference: String, requestsPerMinute: Int?, burst: Int?, maxInFlight: Int?) async throws -> APIKey
    func list() async throws -> [APIKey]
    /// Revokes by id, or by name when exactly one key has it.
    func revoke(_ reference: String) async throws -> APIKey
    /// The key a secret belongs to, revoked or not; `nil` when no key has it.
    func authenticate(secret: String) async throws -> APIKey?
    func count() async throws -> Int
    /// A first unmetered key when there is none yet; `nil` when keys exist.
    func createFirstKey(name: String) async throws -> CreatedAPIKey?
    /// A value that changes whenever a key is created or revoked, by any process; caches
    /// compare it before trusting what they remember.
    func changeToken() -> Int64
}

extension APIKeyStore {
    /// A new unmetered key.
    public func create(name: String) async throws -> CreatedAPIKey { try await create(name: name, credits: nil) }

    /// A first unmetered key, when the store has none yet (a server's first run); `nil`
    /// when keys exist. A store shared by several servers makes it once for them all.
    public func createFirstKey(name: String) async throws -> CreatedAPIKey? {
        try await count() == 0 ? try await create(name: name) : nil
    }
}

/// What a key may do beyond generating images.
public enum APIKeyRole: String, Sendable, Equatable, Codable {
    case user
    case admin
}
