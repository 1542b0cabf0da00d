import Foundation
import GRDB
import Logging

/// API keys in the embedded database. Every change touches a marker file next to it
/// (``ChangeMarker``), so a server's cache of authentications notices a `nano-banana keys`
/// command run by another process on its very next request.
public final class SQLiteAPIKeyStore: APIKeyStore, WebhookListStore {
    private let pool: DatabasePool
    let clock: any WallClock
    private let marker: ChangeMarker
    /// Where the jobs a revoked or disabled key loses are logged.
    private let logger: Logger

    public init(database: SQLiteDatabase, clock: any WallClock = SystemWallClock(), logger: Logger = .discarding) {
        self.pool = database.pool
        self.clock = clock
        self.marker = ChangeMarker(path: database.path + ".keys-changed")
        self.logger = logger
    }

    public func changeToken() -> Int64 { marker.token() }

    public func authenticate(secret: String) async throws -> APIKey? {
        let hash = APIKeySecret.hash(secret)
        return try pool.readNow { db in
            try db.records(
                APIKey.init(columns:), sql: "SELECT \(APIKey.columns) FROM api_keys WHERE key_hash = ?",
                arguments: [hash]
            ).first
        }
    }

    public func create(_ spec: APIKeySpec) async throws -> CreatedAPIKey {
        let draft = try APIKeyDraft(spec, now: clock.now())
        try await changing { db in try Self.insert(draft, in: db) }
        return CreatedAPIKey(key: draft.key, secret: draft.secret)
    }

    public func createFirstKey(name: String) async throws -> CreatedAPIKey? {
        let draft = try APIKeyDraft(APIKeySpec(name: name), now: clock.now())
        // One write transaction at a time in SQLite: the count and the insert cannot race.
        let created = try await changing { db in
            guard try db.cachedValue(Int.self, sql: "SELECT COUNT(*) FROM api_keys") == 0 else { return false }
            try Self.insert(draft, in: db)
            return true
        }
        return created ? CreatedAPIKey(key: draft.key, secret: draft.secret) : nil
    }

    /// Inserts the key, unless a key that is not revoked has its name: SQLite runs one write
    /// transaction at a time, so the check and the insert cannot race.
    private static func insert(_ draft: APIKeyDraft, in db: Database) throws {
        let key = draft.key
        guard
            try db.cachedValue(
                Int.self, sql: "SELECT COUNT(*) FROM api_keys WHERE name = ? AND revoked_at IS NULL",
                arguments: [key.name]) == 0
        else { throw APIKeyError.nameTaken(key.name) }
        try db.cachedExecute(
            sql: """
                INSERT INTO api_keys (
                    id, name, key_hash, prefix, created_at, role, models, disabled, rpm, burst, max_in_flight, webhooks)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                key.id, key.name, draft.hash, key.prefix, key.createdAt.timeIntervalSince1970, key.role.rawValue,
                key.storedModels, key.isDisabled, key.requestsPerMinute, key.burst, key.maxInFlight,
                key.storedWebhooks,
            ])
        if let credits = key.credits {
            try SQLiteRules.require(
                try CreditPolicy.addition(credits, kind: .grant), keyID: key.id, now: key.createdAt, in: db)
        }
    }

    public func update(_ reference: String, _ change: APIKeyChange) async throws -> APIKey {
        try change.check()
        let now = clock.now()
        let (key, withdrawn) = try await changing { db in
            let before = try Self.find(db, reference)
            let key = try change.applied(to: before, now: now)
            try db.cachedExecute(
                sql: """
                    UPDATE api_keys SET role = ?, models = ?, disabled = ?, rpm = ?, burst = ?, max_in_flight = ?,
                    webhooks = ?,
                    bucket_tokens = CASE WHEN ? THEN NULL ELSE bucket_tokens END,
                    bucket_updated_at = CASE WHEN ? THEN NULL ELSE bucket_updated_at END
                    WHERE id = ?
                    """,
                arguments: [
                    key.role.rawValue, key.storedModels, key.isDisabled, key.requestsPerMinute, key.burst,
                    key.maxInFlight, key.storedWebhooks, change.touchesLimits, change.touchesLimits, key.id,
                ])
            guard key.isDisabled && !before.isDisabled else { return (key, [JobRecord]()) }
            let withdrawn = try SQLiteJobStore.cancelQueued(
                db, keyID: key.id, error: JobState.cancelledError(keyRevoked: false), now: now)
            return (key, withdrawn)
        }
        logger.logStoreChanges(withdrawn)
        return key
    }

    public func topUp(_ reference: String, amount: Int) async throws -> APIKey {
        let movement = try CreditPolicy.addition(amount, kind: .topUp)
        let now = clock.now()
        return try await changing { db in
            let key = try Self.find(db, reference)
            try SQLiteRules.require(movement, keyID: key.id, now: now, in: db)
            return try Self.find(db, key.id)
        }
    }

    public func revoke(_ reference: String) async throws -> APIKey {
        let now = clock.now()
        let (key, withdrawn) = try await changing { db in
            var key = try Self.find(db, reference)
            guard key.revokedAt == nil else { return (key, [JobRecord]()) }
            key.revokedAt = now
            try db.cachedExecute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [now.timeIntervalSince1970, key.id])
            let withdrawn = try SQLiteJobStore.cancelQueued(
                db, keyID: key.id, error: JobState.cancelledError(keyRevoked: true), now: now)
            return (key, withdrawn)
        }
        logger.logStoreChanges(withdrawn)
        return key
    }

    public func show(
        _ reference: String, ledgerLimit: Int?, before: Int64?
    ) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        try await pool.read { db in
            let key = try Self.find(db, reference)
            let ledger = try db.records(
                CreditLedgerEntry.init(columns:),
                sql: """
                    SELECT \(CreditLedgerEntry.columns) FROM credit_ledger WHERE key_id = ? AND seq < ?
                    ORDER BY seq DESC LIMIT ?
                    """,
                arguments: [key.id, before ?? Int64.max, ledgerLimit ?? -1])
            return (key, ledger.reversed())
        }
    }

    public func list() async throws -> [APIKey] {
        try await pool.read { db in
            try db.records(APIKey.init(columns:), sql: "SELECT \(APIKey.columns) FROM api_keys ORDER BY created_at")
        }
    }

    public func balance(keyID: String) async throws -> Int? {
        try pool.readNow { db in try SQLiteRules.balance(keyID: keyID, in: db) }
    }

    // MARK: - Webhooks

    public func webhooks(keyID: String) async throws -> [WebhookSubscription] {
        try pool.readNow { db in try Self.find(db, keyID).webhooks }
    }

    public func webhookSecret(_ reference: String, rotate: Bool) async throws -> String {
        // Every delivery asks: a secret already made is a read (by key id).
        if !rotate,
            let stored = try pool.readNow({ db in
                try db.cachedValue(
                    String.self, sql: "SELECT webhook_secret FROM api_keys WHERE id = ?", arguments: [reference])
            })
        {
            return stored
        }
        let candidate = WebhookSecret.generate()
        return try await pool.write { db in
            let key = try Self.find(db, reference)
            try db.cachedExecute(
                sql: """
                    UPDATE api_keys SET webhook_secret = CASE WHEN ? THEN ? ELSE COALESCE(webhook_secret, ?) END
                    WHERE id = ?
                    """,
                arguments: [rotate, candidate, candidate, key.id])
            return try db.cachedValue(
                String.self, sql: "SELECT webhook_secret FROM api_keys WHERE id = ?", arguments: [key.id]) ?? candidate
        }
    }

    /// Reads the key's webhooks, changes them with `change` and writes them back, as a
    /// change of the key.
    func changingWebhooks(
        keyID: String,
        _ change: @escaping @Sendable (inout [WebhookSubscription]) throws -> WebhookSubscription
    ) async throws -> WebhookSubscription {
        try await changing { db in
            let key = try Self.find(db, keyID)
            var list = key.webhooks
            let subscription = try change(&list)
            try db.cachedExecute(
                sql: "UPDATE api_keys SET webhooks = ? WHERE id = ?",
                arguments: [WebhookSubscriptions.stored(list), key.id])
            return subscription
        }
    }

    /// A change to keys, in one transaction, then the marker other processes watch.
    private func changing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await pool.write(body)
        marker.touch()
        return value
    }

    /// A key by id, or by name (``APIKeyLookup``).
    static func find(_ db: Database, _ reference: String) throws -> APIKey {
        try APIKeyLookup.resolve(
            reference,
            byID: try db.records(
                APIKey.init(columns:), sql: "SELECT \(APIKey.columns) FROM api_keys WHERE id = ?",
                arguments: [reference]),
            byName: {
                try db.records(
                    APIKey.init(columns:),
                    sql: """
                        SELECT \(APIKey.columns) FROM api_keys WHERE name = ?
                        ORDER BY revoked_at IS NOT NULL LIMIT \(APIKeyLookup.nameCandidates)
                        """,
                    arguments: [reference])
            })
    }
}

extension SQLiteDatabase {
    /// The server's secret for signing output URLs (``SigningSecret``).
    public func signingSecret() throws -> [UInt8] {
        let candidate = Data(SigningSecret.candidate())
        return try pool.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)",
                arguments: [SigningSecret.settingName, candidate])
            guard
                let stored = try Data.fetchOne(
                    db, sql: "SELECT value FROM settings WHERE name = ?", arguments: [SigningSecret.settingName])
            else { throw StoreUnavailable(reason: "the signing secret could not be stored") }
            return [UInt8](stored)
        }
    }
}
