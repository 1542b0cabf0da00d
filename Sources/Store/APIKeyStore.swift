import Foundation

/// Who a secret belongs to: the one question every request asks. A cache of answers
/// (the server's `APIKeyCache`) wraps only this.
public protocol APIKeyAuthenticator: Sendable {
    /// The key a secret belongs to, revoked or not; `nil` when no key has it.
    func authenticate(secret: String) async throws -> APIKey?

    /// A value that moves whenever a key is created, changed or revoked, by any process: a
    /// cache of answers compares it before trusting what it remembers.
    func changeToken() -> Int64
}

/// Managing keys: the CLI's `keys` commands and the admin routes. Each call is one
/// transaction.
public protocol APIKeyAdministration: Sendable {
    /// A new key with its credits, limits, role and models; ``APIKeyError/nameTaken(_:)``
    /// when a key that is not revoked has its name.
    func create(_ spec: APIKeySpec) async throws -> CreatedAPIKey
    /// A first unmetered key when there is none yet (a server's first run); `nil` when keys
    /// exist. A store shared by several servers makes it once for them all.
    func createFirstKey(name: String) async throws -> CreatedAPIKey?
    /// Changes a key (by id or name) as ``APIKeyChange`` says.
    func update(_ reference: String, _ change: APIKeyChange) async throws -> APIKey
    /// Adds credits to a key (by id or name); returns it with its new balance. A top-up that
    /// would take the balance past ``StoreMaxima/credits`` is refused.
    func topUp(_ reference: String, amount: Int) async throws -> APIKey
    /// Revokes by id or name. The key's QUEUED jobs FAIL as cancelled and are refunded in
    /// the same transaction; PROCESSING ones may finish. Disabling a key (``update(_:_:)``)
    /// does the same.
    func revoke(_ reference: String) async throws -> APIKey
    /// The key (by id or name) and the newest `ledgerLimit` lines of its credit history
    /// (`nil`: all) before the line numbered `before` (`nil`: the newest), oldest first.
    func show(
        _ reference: String, ledgerLimit: Int?, before: Int64?
    ) async throws -> (key: APIKey, ledger: [CreditLedgerEntry])
    func list() async throws -> [APIKey]
    /// The current balance of a key; `nil` when unmetered.
    func balance(keyID: String) async throws -> Int?
}

/// Both sides of the keys, as one store implements them.
public protocol APIKeyStore: APIKeyAuthenticator, APIKeyAdministration {}

extension APIKeyAdministration {
    /// The key and its whole credit history, oldest first.
    public func show(_ reference: String) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        try await show(reference, ledgerLimit: nil, before: nil)
    }

    /// A new key with only a name and, optionally, a balance.
    public func create(name: String, credits: Int? = nil) async throws -> CreatedAPIKey {
        try await create(APIKeySpec(name: name, credits: credits))
    }

    /// Sets a key's own limits (`nil` leaves one as it is; 0 means none).
    public func setLimits(
        _ reference: String, requestsPerMinute: Int?, burst: Int?, maxInFlight: Int?
    ) async throws -> APIKey {
        try await update(
            reference, APIKeyChange(requestsPerMinute: requestsPerMinute, burst: burst, maxInFlight: maxInFlight))
    }

    /// Sets a key's role, its allowed models (`.some(nil)` clears the restriction) and
    /// whether it is disabled; `nil` arguments leave a setting as it is.
    public func setAccess(
        _ reference: String, role: APIKeyRole?, allowedModels: [String]??, disabled: Bool?
    ) async throws -> APIKey {
        try await update(reference, APIKeyChange(role: role, allowedModels: allowedModels, disabled: disabled))
    }
}
