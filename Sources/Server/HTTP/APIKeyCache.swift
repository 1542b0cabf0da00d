import Foundation
import Store
import Synchronization

/// Remembers authentications, so a busy client does not cost a database read per request.
/// Entries are dropped whenever the store's change token moves (any create or revoke, in
/// any process), and after `ttl` in any case; unknown secrets are never cached.
final class APIKeyCache: APIKeyStore {
    private struct Entry {
        let key: APIKey
        let expires: ContinuousClock.Instant
    }

    private let store: any APIKeyStore
    private let ttl: Duration
    private let maxEntries: Int
    private let entries = Mutex<(token: Int64, map: [String: Entry])>((0, [:]))

    init(_ store: any APIKeyStore, ttl: Duration = .seconds(60), maxEntries: Int = 10_000) {
        self.store = store
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    func authenticate(secret: String) async throws -> APIKey? {
        let now = ContinuousClock.now
        let token = store.changeToken()
        let cached = entries.withLock { entries -> APIKey? in
            if entries.token != token {
                entries = (token, [:])
                return nil
            }
            guard let entry = entries.map[secret], entry.expires > now else { return nil }
            return entry.key
        }
        if let cached { return cached }
        guard let key = try await store.authenticate(secret: secret) else { return nil }
        entries.withLock { entries in
            guard entries.token == token else { return }
            if entries.map.count >= maxEntries { entries.map.removeAll(keepingCapacity: true) }
            entries.map[secret] = Entry(key: key, expires: now.advanced(by: ttl))
        }
        return key
    }

    func create(name: String, credits: Int?) async throws -> CreatedAPIKey {
        try await store.create(name: name, credits: credits)
    }
    func topUp(_ reference: String, amount: Int) async throws -> APIKey {
        try await store.topUp(reference, amount: amount)
    }
    func show(_ reference: String) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        try await store.show(reference)
    }
    func setAccess(
        _ reference: String, role: APIKeyRole?, allowedModels: [String]??, disabled: Bool?
    ) async throws
        -> APIKey
    {
        try await store.setAccess(reference, role: role, allowedModels: allowedModels, disabled: disabled)
    }

    func setLimits(
        _ reference: String, requestsPerMinute: Int?, burst: Int?, maxInFlight: Int?
    ) async throws
        -> APIKey
    {
        try await store.setLimits(
            reference, requestsPerMinute: requestsPerMinute, burst: burst, maxInFlight: maxInFlight)
    }

    /// Never cached: balances move with every request.
    func balance(keyID: String) async throws -> Int? { try await store.balance(keyID: keyID) }
    func list() async throws -> [APIKey] { try await store.list() }
    func count() async throws -> Int { try await store.count() }
    func createFirstKey(name: String) async throws -> CreatedAPIKey? { try await store.createFirstKey(name: name) }
    func changeToken() -> Int64 { store.changeToken() }
    func revoke(_ reference: String) async throws -> APIKey { try await store.revoke(reference) }
}
