import Foundation
import Store
import Synchronization

/// Remembers authentications, so a busy client does not cost a database read per request.
/// Entries are dropped whenever the authenticator's change token moves (any create, change
/// or revoke, in any process), and after `ttl` in any case; unknown secrets are never cached.
final class APIKeyCache: APIKeyAuthenticator {
    private struct Entry {
        let key: APIKey
        let expires: ContinuousClock.Instant
    }

    private let base: any APIKeyAuthenticator
    private let ttl: Duration
    private let maxEntries: Int
    private let entries = Mutex<(token: Int64, map: [String: Entry])>((0, [:]))

    init(_ base: any APIKeyAuthenticator, ttl: Duration = .seconds(60), maxEntries: Int = 10_000) {
        self.base = base
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    func authenticate(secret: String) async throws -> APIKey? {
        let now = ContinuousClock.now
        let token = base.changeToken()
        let cached = entries.withLock { entries -> APIKey? in
            if entries.token != token {
                entries = (token, [:])
                return nil
            }
            guard let entry = entries.map[secret], entry.expires > now else { return nil }
            return entry.key
        }
        if let cached { return cached }
        guard let key = try await base.authenticate(secret: secret) else { return nil }
        entries.withLock { entries in
            guard entries.token == token else { return }
            if entries.map.count >= maxEntries { entries.map.removeAll(keepingCapacity: true) }
            entries.map[secret] = Entry(key: key, expires: now.advanced(by: ttl))
        }
        return key
    }

    func changeToken() -> Int64 { base.changeToken() }
}
