import Crypto
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// API keys in PostgreSQL, shared by every node. Each change is announced on the cluster
/// channel; ``changeToken()`` moves on this node's own changes and on every announcement it
/// hears (``noteExternalChange()``), so the nodes' key caches forget a revoked key at once.
public final class PostgresAPIKeyStore: APIKeyStore {
    private let database: PostgresDatabase
    private let clock: any WallClock
    private let logger: Logger
    private let token = Atomic<Int64>(0)

    public init(database: PostgresDatabase, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.clock = clock
        self.logger = database.logger
    }

    public func changeToken() -> Int64 { token.load(ordering: .acquiring) }

    /// Another node changed a key (or this node may have missed an announcement).
    public func noteExternalChange() {
        token.add(1, ordering: .releasing)
    }

    public func create(name: String, credits: Int?) async throws -> CreatedAPIKey {
        guard let created = try await insert(name: name, credits: credits, onlyIfNone: false) else {
            throw StoreUnavailable(reason: "the key was not stored")
        }
        return created
    }

    private func insert(name: String, credits: Int?, onlyIfNone: Bool) async throws -> CreatedAPIKey? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(trimmed.count), !trimmed.contains(where: { $0.isNewline }) else {
            throw APIKeyError.invalidName(name)
        }
        let secret = APIKeySecret.generate()
        let now = clock.now()
        let key = APIKey(
            id: "key_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16)).lowercased(),
            name: trimmed, prefix: String(secret.prefix(10)), createdAt: now)
        let created = try await changing { connection, logger -> Bool in
            if onlyIfNone {
                // API nodes starting together on an empty database: one makes the first key.
                try await connection.run("SELECT pg_advisory_xact_lock(7318270412)", logger: logger)
                let existing = try await connection.value(Int.self, "SELECT count(*) FROM api_keys", logger: logger)
                if (existing ?? 0) > 0 { return false }
            }
            try await connection.run(
                """
                INSERT INTO api_keys (id, name, key_hash, prefix, created_at)
                VALUES (\(key.id), \(key.name), \(APIKeySecret.hash(secret)), \(key.prefix), \(now.timeIntervalSince1970))
                """, logger: logger)
            if let credits {
                try await PostgresCredits.add(
                    connection, keyID: key.id, amount: credits, kind: .grant, now: now, logger: logger)
            }
            return true
        }
        return created ? CreatedAPIKey(key: key, secret: secret) : nil
    }

    public func createFirstKey(name: String) async throws -> CreatedAPIKey? {
        try await insert(name: name, credits: nil, onlyIfNone: true)
    }

    public func list() async throws -> [APIKey] {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.rows(
                "SELECT \(unescaped: APIKey.postgresColumns) FROM api_keys ORDER BY created_at", logger: logger
            ).map(APIKey.init(postgres:))
        }
    }

    public func revoke(_ reference: String) async throws -> APIKey {
        let now = clock.now()
        return try await changing { connection, logger in
            var key = try await Self.find(connection, reference, logger: logger)
            if key.revokedAt == nil {
                key.revokedAt = now
                try await connection.run(
                    "UPDATE api_keys SET revoked_at = \(now.timeIntervalSince1970) WHERE id = \(key.id)",
                    logger: logger)
            }
            return key
        }
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        let hash = APIKeySecret.hash(secret)
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.rows(
                "SELECT \(unescaped: APIKey.postgresColumns) FROM api_keys WHERE key_hash = \(hash)", logger: logger
            ).first.map(APIKey.init(postgres:))
        }
    }

    public func count() async throws -> Int {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.value(Int.self, "SELECT count(*) FROM api_keys", logger: logger) ?? 0
        }
    }

    public func topUp(_ reference: String, amount: Int) async throws -> APIKey {
        guard amount > 0 else { throw APIKeyError.invalidAmount(amount) }
        let now = clock.now()
        return try await changing { connection, logger in
            let key = try await Self.find(connection, reference, logger: logger)
            try await PostgresCredits.add(
                connection, keyID: key.id, amount: amount, kind: .topUp, now: now, logger: logger)
            return try await Self.find(connection, key.id, logger: logger)
        }
    }

    public func show(_ reference: String) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        let logger = logger
        return try await database.withConnection { connection in
            let key = try await Self.find(connection, reference, logger: logger)
            return (key, try await PostgresCredits.entries(connection, keyID: key.id, logger: logger))
        }
    }

    public func balance(keyID: String) async throws -> Int? {
        let logger = logger
        return try await database.withConnection { connection in
            try await PostgresCredits.balance(connection, keyID: keyID, logger: logger)
        }
    }

    public func setLimits(
        _ reference: String, requestsPerMinute: Int?, burst: Int?, maxInFlight: Int?
    ) async throws -> APIKey {
        for value in [requestsPerMinute, burst, maxInFlight].compactMap({ $0 }) where value < 0 {
            throw APIKeyError.invalidAmount(value)
        }
        return try await changing { connection, logger in
            let key = try await Self.find(connection, reference, logger: logger)
            try await connection.run(
                """
                UPDATE api_keys SET rpm = COALESCE(\(requestsPerMinute), rpm), burst = COALESCE(\(burst), burst),
                max_in_flight = COALESCE(\(maxInFlight), max_in_flight), bucket_tokens = NULL, bucket_updated_at = NULL
                WHERE id = \(key.id)
                """, logger: logger)
            return try await Self.find(connection, key.id, logger: logger)
        }
    }

    public func setAccess(
        _ reference: String, role: APIKeyRole?, allowedModels: [String]??, disabled: Bool?
    ) async throws -> APIKey {
        try await changing { connection, logger in
            let key = try await Self.find(connection, reference, logger: logger)
            if let role {
                try await connection.run(
                    "UPDATE api_keys SET role = \(role.rawValue) WHERE id = \(key.id)", logger: logger)
            }
            if let allowedModels {
                try await connection.run(
                    "UPDATE api_keys SET models = \(allowedModels?.joined(separator: ",")) WHERE id = \(key.id)",
                    logger: logger)
            }
            if let disabled {
                try await connection.run(
                    "UPDATE api_keys SET disabled = \(disabled) WHERE id = \(key.id)", logger: logger)
            }
            return try await Self.find(connection, key.id, logger: logger)
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

    /// A key by id, or by name when exactly one key has it.
    static func find(_ connection: PostgresConnection, _ reference: String, logger: Logger) async throws -> APIKey {
        var matches = try await connection.rows(
            "SELECT \(unescaped: APIKey.postgresColumns) FROM api_keys WHERE id = \(reference)", logger: logger)
        if matches.isEmpty {
            matches = try await connection.rows(
                "SELECT \(unescaped: APIKey.postgresColumns) FROM api_keys WHERE name = \(reference) LIMIT 2",
                logger: logger)
        }
        guard matches.count <= 1 else { throw APIKeyError.ambiguous(reference) }
        guard let row = matches.first else { throw APIKeyError.notFound(reference) }
        return try APIKey(postgres: row)
    }
}

extension APIKey {
    static let postgresColumns =
        "id, name, prefix, created_at, revoked_at, credits, role, models, disabled, rpm, burst, max_in_flight"

    init(postgres row: PostgresRow) throws {
        let cells = row.makeRandomAccess()
        self.init(
            id: try cells[0].decode(String.self), name: try cells[1].decode(String.self),
            prefix: try cells[2].decode(String.self),
            createdAt: Date(timeIntervalSince1970: try cells[3].decode(Double.self)),
            revokedAt: try cells[4].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            credits: try cells[5].decode(Int?.self),
            role: APIKeyRole(rawValue: try cells[6].decode(String.self)) ?? .user,
            allowedModels: try cells[7].decode(String?.self).map { $0.split(separator: ",").map(String.init) },
            isDisabled: try cells[8].decode(Bool.self), requestsPerMinute: try cells[9].decode(Int?.self),
            burst: try cells[10].decode(Int?.self), maxInFlight: try cells[11].decode(Int?.self))
    }
}

extension PostgresDatabase {
    /// The cluster's secret for signing output URLs: made by whichever node asks first, then
    /// shared, so a link signed by one API node opens on every other.
    public func signingSecret() async throws -> [UInt8] {
        let candidate = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let logger = logger
        return try await withConnection { connection in
            try await connection.run(
                """
                INSERT INTO settings (name, value) VALUES ('signing_secret', \(ByteBuffer(bytes: candidate)))
                ON CONFLICT (name) DO NOTHING
                """, logger: logger)
            guard
                let stored = try await connection.value(
                    ByteBuffer.self, "SELECT value FROM settings WHERE name = 'signing_secret'", logger: logger)
            else { throw StoreUnavailable(reason: "the signing secret could not be stored") }
            return Array(stored.readableBytesView)
        }
    }
}
