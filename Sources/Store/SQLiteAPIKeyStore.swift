import Foundation
import GRDB

/// API keys in the embedded database.
public final class SQLiteAPIKeyStore: APIKeyStore {
    private let pool: DatabasePool
    private let clock: any WallClock
    private let marker: ChangeMarker

    public init(database: SQLiteDatabase, clock: any WallClock = SystemWallClock()) {
        self.pool = database.pool
        self.clock = clock
        self.marker = ChangeMarker(path: database.path + ".keys-changed")
    }

    public func changeToken() -> Int64 { marker.token() }

    public func create(name: String, credits: Int?) async throws -> CreatedAPIKey {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(trimmed.count), !trimmed.contains(where: { $0.isNewline }) else {
            throw APIKeyError.invalidName(name)
        }
        let secret = APIKeySecret.generate()
        let key = APIKey(
            id: "key_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16)).lowercased(),
            name: trimmed, prefix: String(secret.prefix(10)), createdAt: clock.now())
        let now = clock.now()
        try await pool.write { db in
            try db.cachedExecute(
                sql: "INSERT INTO api_keys (id, name, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    key.id, key.name, APIKeySecret.hash(secret), key.prefix, key.createdAt.timeIntervalSince1970,
                ])
            if let credits { try CreditLedger.add(db, keyID: key.id, amount: credits, kind: .grant, now: now) }
        }
        marker.touch()
        return CreatedAPIKey(key: key, secret: secret)
    }

    public func list() async throws -> [APIKey] {
        try await pool.read { db in
            try db.cachedRows(sql: "SELECT * FROM api_keys ORDER BY created_at").map(APIKey.init(row:))
        }
    }

    public func revoke(_ reference: String) async throws -> APIKey {
        let now = clock.now()
        let revoked = try await pool.write { db in
            var key = try Self.find(db, reference)
            if key.revokedAt == nil {
                key.revokedAt = now
                try db.cachedExecute(
                    sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?",
                    arguments: [now.timeIntervalSince1970, key.id])
            }
            return key
        }
        marker.touch()
        return revoked
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        let hash = APIKeySecret.hash(secret)
        return try pool.readNow { db in
            try db.cachedRow(sql: "SELECT * FROM api_keys WHERE key_hash = ?", arguments: [hash])
                .map(APIKey.init(row:))
        }
    }

    public func count() async throws -> Int {
        try await pool.read { db in try db.cachedValue(Int.self, sql: "SELECT COUNT(*) FROM api_keys") ?? 0 }
    }

    public func topUp(_ reference: String, amount: Int) async throws -> APIKey {
        guard amount > 0 else { throw APIKeyError.invalidAmount(amount) }
        let now = clock.now()
        let key = try await pool.write { db in
            let key = try Self.find(db, reference)
            try CreditLedger.add(db, keyID: key.id, amount: amount, kind: .topUp, now: now)
            return try Self.find(db, key.id)
        }
        marker.touch()
        return key
    }

    public func show(_ reference: String) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        try await pool.read { db in
            let key = try Self.find(db, reference)
            return (key, try CreditLedger.entries(db, keyID: key.id))
        }
    }

    public func setLimits(
        _ reference: String, requestsPerMinute: Int?, burst: Int?, maxInFlight: Int?
    ) async throws
        -> APIKey
    {
        for value in [requestsPerMinute, burst, maxInFlight].compactMap({ $0 }) where value < 0 {
            throw APIKeyError.invalidAmount(value)
        }
        let updated = try await pool.write { db in
            let key = try Self.find(db, reference)
            try db.cachedExecute(
                sql: """
                    UPDATE api_keys SET rpm = COALESCE(?, rpm), burst = COALESCE(?, burst),
                    max_in_flight = COALESCE(?, max_in_flight), bucket_tokens = NULL, bucket_updated_at = NULL
                    WHERE id = ?
                    """,
                arguments: [requestsPerMinute, burst, maxInFlight, key.id])
            return try Self.find(db, key.id)
        }
        marker.touch()
        return updated
    }

    public func setAccess(
        _ reference: String, role: APIKeyRole?, allowedModels: [String]??, disabled: Bool?
    )
        async throws -> APIKey
    {
        let updated = try await pool.write { db in
            let key = try Self.find(db, reference)
            if let role {
                try db.cachedExecute(
                    sql: "UPDATE api_keys SET role = ? WHERE id = ?", arguments: [role.rawValue, key.id])
            }
            if let allowedModels {
                try db.cachedExecute(
                    sql: "UPDATE api_keys SET models = ? WHERE id = ?",
                    arguments: [allowedModels?.joined(separator: ","), key.id])
            }
            if let disabled {
                try db.cachedExecute(
                    sql: "UPDATE api_keys SET disabled = ? WHERE id = ?", arguments: [disabled ? 1 : 0, key.id])
            }
            return try Self.find(db, key.id)
        }
        marker.touch()
        return updated
    }

    public func balance(keyID: String) async throws -> Int? {
        try pool.readNow { db in try CreditLedger.balance(db, keyID: keyID) }
    }

    /// A key by id, or by name when exactly one key has it.
    static func find(_ db: Database, _ reference: String) throws -> APIKey {
        var matches = try db.cachedRows(sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [reference])
        if matches.isEmpty {
            matches = try db.cachedRows(sql: "SELECT * FROM api_keys WHERE name = ?", arguments: [reference])
        }
        guard matches.count <= 1 else { throw APIKeyError.ambiguous(reference) }
        guard let key = matches.first.map(APIKey.init(row:)) else { throw APIKeyError.notFound(reference) }
        return key
    }
}

extension APIKey {
    init(row: Row) {
        let revoked: Double? = row["revoked_at"]
        self.init(
            id: row["id"], name: row["name"], prefix: row["prefix"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            revokedAt: revoked.map(Date.init(timeIntervalSince1970:)), credits: row["credits"],
            role: APIKeyRole(rawValue: row["role"] ?? "user") ?? .user,
            allowedModels: (row["models"] as String?).map { $0.split(separator: ",").map(String.init) },
            isDisabled: (row["disabled"] as Int? ?? 0) != 0,
            requestsPerMinute: row["rpm"], burst: row["burst"], maxInFlight: row["max_in_flight"])
    }
}
