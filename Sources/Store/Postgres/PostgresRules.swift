import Foundation
import Logging
import PostgresNIO

/// The rules' statements in PostgreSQL, inside the caller's transaction. A change of a
/// balance and its ledger line are one statement, so they commit or vanish together.
enum PostgresRules {
    /// Runs a ``CreditMovement``; `false` when its condition did not hold.
    @discardableResult
    static func apply(
        _ movement: CreditMovement, keyID: String, now: Date, on connection: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        var sql = SQLBuilder()
        let amount = sql.bind(movement.amount)
        let key = sql.bind(keyID)
        let request = sql.bind(movement.requestID)
        let condition =
            switch movement.condition {
            case .balanceCovers(let price): "credits IS NOT NULL AND credits >= \(sql.bind(price))"
            case .reserved:
                """
                credits IS NOT NULL AND EXISTS (
                    SELECT 1 FROM credit_ledger WHERE key_id = \(key) AND request_id = \(request) AND kind = 'reserve')
                """
            case .balanceStaysWithin(let maximum):
                // Compared without adding, so that no sum can overflow.
                "COALESCE(credits, 0) <= \(sql.bind(maximum - movement.amount))"
            }
        let text = """
            WITH balance AS (
                UPDATE api_keys SET credits = COALESCE(credits, 0) + \(amount) WHERE id = \(key) AND \(condition)
                RETURNING credits
            )
            INSERT INTO credit_ledger (key_id, request_id, kind, amount, balance_after, created_at)
            SELECT \(key), \(request), \(sql.bind(movement.kind.rawValue)), \(amount), credits, \
            \(sql.bind(now.timeIntervalSince1970)) FROM balance
            RETURNING 1
            """
        return try await !connection.rows(sql.query(text), logger: logger).isEmpty
    }

    /// Folds the key's old ledger lines into one summary line as ``LedgerFold`` decides;
    /// returns how many lines went. The caller holds the key's row.
    static func fold(
        _ fold: LedgerFold, keyID: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        let open =
            try await connection.value(
                Int64?.self,
                """
                SELECT min(credit_ledger.seq) FROM jobs
                JOIN credit_ledger ON credit_ledger.request_id = jobs.id AND credit_ledger.kind = 'reserve'
                WHERE jobs.key_id = \(keyID) AND jobs.status IN ('QUEUED', 'PROCESSING')
                """, logger: logger) ?? nil
        let limit = fold.limit(oldestOpenReservation: open)
        guard
            let end = try await connection.value(
                Int64?.self,
                """
                SELECT max(seq) FROM credit_ledger
                WHERE key_id = \(keyID) AND created_at < \(fold.cutoff.timeIntervalSince1970) AND seq < \(limit)
                """, logger: logger) ?? nil,
            let row = try await connection.rows(
                """
                SELECT count(*), COALESCE(sum(amount), 0)::bigint FROM credit_ledger
                WHERE key_id = \(keyID) AND seq <= \(end)
                """, logger: logger
            ).first
        else { return 0 }
        let (lines, sum) = try row.decode((Int, Int).self)
        guard fold.folds(lines: lines) else { return 0 }
        try await connection.run(
            """
            WITH summary AS (
                UPDATE credit_ledger SET kind = 'summary', amount = \(sum), request_id = NULL WHERE seq = \(end)
            )
            DELETE FROM credit_ledger WHERE key_id = \(keyID) AND seq < \(end)
            """, logger: logger)
        return lines - 1
    }

    /// Makes a reservation, a grant or a top-up, or throws why not
    /// (``CreditPolicy/refusal(of:balance:)``: ``InsufficientCredits``, or
    /// ``APIKeyError/balanceTooLarge(balance:amount:maximum:)``).
    static func require(
        _ movement: CreditMovement, keyID: String, now: Date, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard try await !apply(movement, keyID: keyID, now: now, on: connection, logger: logger) else { return }
        let balance = try await self.balance(keyID: keyID, on: connection, logger: logger)
        if let refusal = CreditPolicy.refusal(of: movement, balance: balance) { throw refusal }
    }

    /// The key's balance; `nil` for an unmetered (or unknown) key.
    static func balance(keyID: String, on connection: PostgresConnection, logger: Logger) async throws -> Int? {
        try await connection.value(Int?.self, "SELECT credits FROM api_keys WHERE id = \(keyID)", logger: logger)
            ?? nil
    }

    /// Reads what ``SubmitAdmission`` asks for, and stores the bucket it decides. The key's
    /// row is locked first, so two nodes admitting the same key's requests take turns: its
    /// bucket and its count of jobs in flight are exact across the cluster. The queue
    /// length is approximate by the submissions committing at the same moment.
    static func admit(
        _ admission: SubmitAdmission, keyID: String, on connection: PostgresConnection, logger: Logger
    ) async throws {
        var facts = SubmitAdmission.Facts()
        if admission.checksKey,
            let row = try await connection.rows(
                "SELECT bucket_tokens, bucket_updated_at FROM api_keys WHERE id = \(keyID) FOR UPDATE", logger: logger
            ).first
        {
            let (tokens, updated) = try row.decode((Double?, Double?).self)
            if let tokens, let updated {
                facts.bucket = TokenBucket(tokens: tokens, updatedAt: Date(timeIntervalSince1970: updated))
            }
        }
        if admission.queueLimit != nil,
            let limit = admission.queueCountLimit(
                span: try await connection.value(
                    Int64?.self,
                    "SELECT (SELECT max(seq) FROM jobs) - (SELECT min(seq) FROM jobs WHERE status = 'QUEUED') + 1",
                    logger: logger) ?? nil)
        {
            facts.queued =
                try await connection.value(
                    Int.self, "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'QUEUED' LIMIT \(limit)) q",
                    logger: logger) ?? 0
        }
        if let limit = admission.inFlightLimit {
            facts.inFlight =
                try await connection.value(
                    Int.self,
                    """
                    SELECT count(*) FROM (
                        SELECT 1 FROM jobs WHERE key_id = \(keyID) AND status IN ('QUEUED', 'PROCESSING') LIMIT \(limit)) f
                    """, logger: logger) ?? 0
        }
        if admission.queuedBytesLimit != nil {
            facts.queuedBytes =
                try await connection.value(
                    Int.self,
                    """
                    SELECT COALESCE(sum(parameter_bytes) FILTER (WHERE status = 'QUEUED'), 0)::bigint
                    FROM jobs WHERE key_id = \(keyID) AND status IN ('QUEUED', 'PROCESSING')
                    """, logger: logger) ?? 0
        }
        guard let bucket = try admission.decide(facts) else { return }
        try await connection.run(
            """
            UPDATE api_keys SET bucket_tokens = \(bucket.tokens), bucket_updated_at = \(bucket.updatedAt.timeIntervalSince1970)
            WHERE id = \(keyID)
            """, logger: logger)
    }
}

/// Builds a statement whose shape depends on the case, numbering its parameters as they
/// are bound: `"… = \(sql.bind(value))"`, then ``query(_:)``.
struct SQLBuilder {
    private var binds = PostgresBindings()

    /// Binds a value (or NULL) and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value?) -> String {
        if let value { binds.append(value, context: .default) } else { binds.appendNull() }
        return "$\(binds.count)"
    }

    func query(_ sql: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
