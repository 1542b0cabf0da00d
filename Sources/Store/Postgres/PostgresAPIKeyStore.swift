import Foundation
import Logging
import PostgresNIO
import Synchronization

/// API keys in PostgreSQL, shared by every node. Each change is announced on the cluster
/// channel; ``changeToken()`` moves on this node's own changes and on every announcement it
/// hears (``noteExternalChange()``), so the nodes' key caches forget a revoked key at once.
public final class PostgresAPIKeyStore: APIKeyStore, WebhookListStore {
    private let database: PostgresDatabase
    let clock: any WallClock
    private let logger: Logger
    private let token = Atomic<Int64>(0)

    public init(database: PostgresDatabase, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.clock = clock
        self.logger = database.logger
    }

    public func changeToken() -> Int64 { token.load(ordering: .acquiring) }

    private var jobWrites: PostgresJobWrites { PostgresJobWrites(channel: database.channel, logger: logger) }

    /// Another node changed a key (or this node may have missed an announcement).
    public func noteExternalChange() {
        token.add(1, ordering: .releasing)
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        let hash = APIKeySecret.hash(secret)
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                APIKey.init(columns:),
                "SELECT \(unescaped: APIKey.columns) FROM api_keys WHERE key_hash = \(hash)", logger: logger
            ).first
        }
    }

    public func create(_ spec: APIKeySpec) async throws -> CreatedAPIKey {
        let draft = try APIKeyDraft(spec, now: clock.now())
        try await changing { connection, logger in try await Self.insert(draft, on: connection, logger: logger) }
        return CreatedAPIKey(key: draft.key, secret: draft.secret)
    }

    public func createFirstKey(name: String) async throws -> CreatedAPIKey? {
        let draft = try APIKeyDraft(APIKeySpec(name: name), now: clock.now())
        let created = try await changing { connection, logger -> Bool in
            // API nodes starting together on an empty database: one makes the first key.
            try await connection.run("SELECT pg_advisory_xact_lock(7318270412)", logger: logger)
            guard try await connection.value(Int.self, "SELECT count(*) FROM api_keys", logger: logger) == 0 else {
                return false
            }
            try await Self.insert(draft, on: connection, logger: logger)
            return true
        }
        return created ? CreatedAPIKey(key: draft.key, secret: draft.secret) : nil
    }

    /// Inserts the key, unless a key that is not revoked has its name. Creations of one name
    /// take turns on an advisory lock of that name, so two at once make one key.
    private static func insert(_ draft: APIKeyDraft, on connection: PostgresConnection, logger: Logger) async throws {
        let key = draft.key
        let lock = "nano-banana key name " + key.name
        try await connection.run("SELECT pg_advisory_xact_lock(hashtextextended(\(lock), 0))", logger: logger)
        guard
            try await connection.value(
                Int.self, "SELECT count(*) FROM api_keys WHERE name = \(key.name) AND revoked_at IS NULL",
                logger: logger) == 0
        else { throw APIKeyError.nameTaken(key.name) }
        try await connection.run(
            """
            INSERT INTO api_keys (
                id, name, key_hash, prefix, created_at, role, models, disabled, rpm, burst, max_in_flight, webhooks)
            VALUES (\(key.id), \(key.name), \(draft.hash), \(key.prefix), \(key.createdAt.timeIntervalSince1970), \
            \(key.role.rawValue), \(key.storedModels), \(key.isDisabled), \(key.requestsPerMinute), \(key.burst), \
            \(key.maxInFlight), \(key.storedWebhooks))
            """, logger: logger)
        if let credits = key.credits {
            try await PostgresRules.require(
                try CreditPolicy.addition(credits, kind: .grant), keyID: key.id, now: key.createdAt, on: connection,
                logger: logger)
        }
    }

    public func update(_ reference: String, _ change: APIKeyChange) async throws -> APIKey {
        try change.check()
        let now = clock.now()
        let jobs = jobWrites
        let (key, withdrawn) = try await changing { connection, logger in
            let before = try await Self.find(connection, reference, locking: true, logger: logger)
            let key = try change.applied(to: before, now: now)
            try await connection.run(
                """
                UPDATE api_keys SET role = \(key.role.rawValue), models = \(key.storedModels), \
                disabled = \(key.isDisabled), rpm = \(key.requestsPerMinute), burst = \(key.burst), \
                max_in_flight = \(key.maxInFlight), webhooks = \(key.storedWebhooks),
                bucket_tokens = CASE WHEN \(change.touchesLimits) THEN NULL ELSE bucket_tokens END,
                bucket_updated_at = CASE WHEN \(change.touchesLimits) THEN NULL ELSE bucket_updated_at END
                WHERE id = \(key.id)
                """, logger: logger)
            guard key.isDisabled && !before.isDisabled else { return (key, [JobRecord]()) }
            let withdrawn = try await jobs.cancelQueued(
                connection, keyID: key.id, error: JobState.cancelledError(keyRevoked: false), now: now)
            return (key, withdrawn)
        }
        logger.logStoreChanges(withdrawn)
        return key
    }

    public func topUp(_ reference: String, amount: Int) async throws -> APIKey {
        let movement = try CreditPolicy.addition(amount, kind: .topUp)
        let now = clock.now()
        return try await changing { connection, logger in
            let key = try await Self.find(connection, reference, locking: true, logger: logger)
            try await PostgresRules.require(movement, keyID: key.id, now: now, on: connection, logger: logger)
            return try await Self.find(connection, key.id, logger: logger)
        }
    }

    public func revoke(_ reference: String) async throws -> APIKey {
        let now = clock.now()
        let jobs = jobWrites
        let (key, withdrawn) = try await changing { connection, logger in
            var key = try await Self.find(connection, reference, locking: true, logger: logger)
            guard key.revokedAt == nil else { return (key, [JobRecord]()) }
            key.revokedAt = now
            try await connection.run(
                "UPDATE api_keys SET revoked_at = \(now.timeIntervalSince1970) WHERE id = \(key.id)", logger: logger)
            let withdrawn = try await jobs.cancelQueued(
                connection, keyID: key.id, error: JobState.cancelledError(keyRevoked: true), now: now)
            return (key, withdrawn)
        }
        logger.logStoreChanges(withdrawn)
        return key
    }

    public func show(
        _ reference: String, ledgerLimit: Int?, before: Int64?
    ) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        let logger = logger
        return try await database.withConnection { connection in
            let key = try await Self.find(connection, reference, logger: logger)
            let ledger = try await connection.records(
                CreditLedgerEntry.init(columns:),
                """
                SELECT \(unescaped: CreditLedgerEntry.columns) FROM credit_ledger
                WHERE key_id = \(key.id) AND seq < \(before ?? Int64.max) ORDER BY seq DESC LIMIT \(ledgerLimit)
                """, logger: logger)
            return (key, ledger.reversed())
        }
    }

    public func list() async throws -> [APIKey] {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                APIKey.init(columns:), "SELECT \(unescaped: APIKey.columns) FROM api_keys ORDER BY created_at",
                logger: logger)
        }
    }

    public func balance(keyID: String) async throws -> Int? {
        let logger = logger
        return try await database.withConnection { connection in
            try await PostgresRules.balance(keyID: keyID, on: connection, logger: logger)
        }
    }

    // MARK: - Webhooks

    public func webhooks(keyID: String) async throws -> [WebhookSubscription] {
        let logger = logger
        return try await database.withConnection { connection in
            try await Self.find(connection, keyID, logger: logger).webhooks
        }
    }

    public func webhookSecret(_ reference: String, rotate: Bool) async throws -> String {
        let logger = logger
        // Every delivery asks: a secret already made is a read (by key id), no lock.
        if !rotate,
            let stored = try await database.withConnection({ connection in
                try await connection.value(
                    String?.self, "SELECT webhook_secret FROM api_keys WHERE id = \(reference)", logger: logger) ?? nil
            })
        {
            return stored
        }
        let candidate = WebhookSecret.generate()
        return try await database.withTransaction { connection in
            let key = try await Self.find(connection, reference, locking: true, logger: logger)
            return try await connection.value(
                String.self,
                """
                UPDATE api_keys SET webhook_secret = CASE WHEN \(rotate) THEN \(candidate) \
                ELSE COALESCE(webhook_secret, \(candidate)) END
                WHERE id = \(key.id) RETURNING webhook_secret
                """, logger: logger) ?? candidate
        }
    }

    /// Reads the key's webhooks (its row locked), changes them with `change` and writes
    /// them back, as a change of the key.
    func changingWebhooks(
        keyID: String,
        _ change: @escaping @Sendable (inout [WebhookSubscription]) throws -> WebhookSubscription
    ) async throws -> WebhookSubscription {
        try await changing { connection, logger in
            let key = try await Self.find(connection, keyID, locking: true, logger: logger)
            var list = key.webhooks
            let subscription = try change(&list)
            try await connection.run(
                "UPDATE api_keys SET webhooks = \(WebhookSubscriptions.stored(list)) WHERE id = \(key.id)",
                logger: logger)
            return subscription
        }
    }

    /// A change to keys, in one transaction that also tells every node about it.
    private func changing<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let logger = logger
        let channel = database.channel
        let value = try await database.withTransaction { connection in
            let value = try await body(connection, logger)
            try await connection.run(
                "SELECT pg_notify(\(channel), \(PostgresEvents.keysPayload))", logger: logger)
            return value
        }
        noteExternalChange()
        return value
    }

    /// A key by id, or by name (``APIKeyLookup``); `locking` its row for the rest of the
    /// transaction.
    static func find(
        _ connection: PostgresConnection, _ reference: String, locking: Bool = false, logger: Logger
    ) async throws -> APIKey {
        let lock = locking ? " FOR UPDATE" : ""
        return try await APIKeyLookup.resolve(
            reference,
            byID: try await connection.records(
                APIKey.init(columns:),
                "SELECT \(unescaped: APIKey.columns) FROM api_keys WHERE id = \(reference)\(unescaped: lock)",
                logger: logger),
            byName: {
                try await connection.records(
                    APIKey.init(columns:),
                    """
                    SELECT \(unescaped: APIKey.columns) FROM api_keys WHERE name = \(reference)
                    ORDER BY revoked_at IS NOT NULL LIMIT \(APIKeyLookup.nameCandidates)\(unescaped: lock)
                    """,
                    logger: logger)
            })
    }
}

extension PostgresDatabase {
    /// The cluster's secret for signing output URLs (``SigningSecret``): a link signed by
    /// one API node opens on every other.
    public func signingSecret() async throws -> [UInt8] {
        let candidate = ByteBuffer(bytes: SigningSecret.candidate())
        let name = SigningSecret.settingName
        let logger = logger
        return try await withConnection { connection in
            try await connection.run(
                "INSERT INTO settings (name, value) VALUES (\(name), \(candidate)) ON CONFLICT (name) DO NOTHING",
                logger: logger)
            guard
                let stored = try await connection.value(
                    ByteBuffer.self, "SELECT value FROM settings WHERE name = \(name)", logger: logger)
            else { throw StoreUnavailable(reason: "the signing secret could not be stored") }
            return Array(stored.readableBytesView)
        }
    }
}
