import Foundation
import Logging
import PostgresNIO

/// ``CreditLedger``'s rules in PostgreSQL, inside the caller's transaction. Every change of
/// a balance and its ledger line are one statement, so they commit or vanish together.
enum PostgresCredits {
    /// Takes `price` from a metered key (keys without a balance are unmetered), or throws.
    static func reserve(
        _ connection: PostgresConnection, keyID: String, price: Int, requestID: String, now: Date, logger: Logger
    ) async throws {
        let reserved = try await connection.rows(
            """
            WITH paid AS (
                UPDATE api_keys SET credits = credits - \(price)
                WHERE id = \(keyID) AND credits IS NOT NULL AND credits >= \(price) RETURNING credits
            )
            INSERT INTO credit_ledger (key_id, request_id, kind, amount, balance_after, created_at)
            SELECT \(keyID), \(requestID), 'reserve', \(-price), credits, \(now.timeIntervalSince1970) FROM paid
            RETURNING balance_after
            """, logger: logger)
        guard reserved.isEmpty else { return }
        guard let balance = try await balance(connection, keyID: keyID, logger: logger) else { return }
        throw InsufficientCredits(price: price, balance: balance)
    }

    /// Settles (COMPLETED) or refunds (FAILED) what a finished job reserved; a job that
    /// reserved nothing (its key was unmetered when it was submitted) is left alone.
    static func finish(
        _ connection: PostgresConnection, keyID: String, price: Int, requestID: String, completed: Bool, now: Date,
        logger: Logger
    ) async throws {
        let refund = completed ? 0 : price
        try await connection.run(
            """
            WITH reservation AS (
                SELECT 1 FROM credit_ledger WHERE request_id = \(requestID) AND kind = 'reserve' AND key_id = \(keyID)
            ), balance AS (
                UPDATE api_keys SET credits = credits + \(refund)
                WHERE id = \(keyID) AND credits IS NOT NULL AND EXISTS (SELECT 1 FROM reservation) RETURNING credits
            )
            INSERT INTO credit_ledger (key_id, request_id, kind, amount, balance_after, created_at)
            SELECT \(keyID), \(requestID), \(completed ? "settle" : "refund"), \(refund), credits, \
            \(now.timeIntervalSince1970) FROM balance
            """, logger: logger)
    }

    /// Adds credits (a grant or a top-up), making an unmetered key metered.
    static func add(
        _ connection: PostgresConnection, keyID: String, amount: Int, kind: CreditLedgerEntry.Kind, now: Date,
        logger: Logger
    ) async throws {
        try await connection.run(
            """
            WITH balance AS (
                UPDATE api_keys SET credits = COALESCE(credits, 0) + \(amount) WHERE id = \(keyID) RETURNING credits
            )
            INSERT INTO credit_ledger (key_id, request_id, kind, amount, balance_after, created_at)
            SELECT \(keyID), NULL, \(kind.rawValue), \(amount), credits, \(now.timeIntervalSince1970) FROM balance
            """, logger: logger)
    }

    /// The key's balance; `nil` for an unmetered (or unknown) key.
    static func balance(_ connection: PostgresConnection, keyID: String, logger: Logger) async throws -> Int? {
        try await connection.value(Int?.self, "SELECT credits FROM api_keys WHERE id = \(keyID)", logger: logger)
            ?? nil
    }

    static func entries(
        _ connection: PostgresConnection, keyID: String, logger: Logger
    ) async throws
        -> [CreditLedgerEntry]
    {
        try await connection.rows(
            """
            SELECT kind, amount, balance_after, request_id, created_at FROM credit_ledger
            WHERE key_id = \(keyID) ORDER BY seq
            """, logger: logger
        ).map { row in
            let (kind, amount, balance, requestID, created) = try row.decode((String, Int, Int?, String?, Double).self)
            return CreditLedgerEntry(
                kind: CreditLedgerEntry.Kind(rawValue: kind) ?? .grant, amount: amount, balanceAfter: balance ?? 0,
                requestID: requestID, createdAt: Date(timeIntervalSince1970: created))
        }
    }
}

/// ``SubmitGate``'s limits in PostgreSQL. For a key's own limits its row is locked first,
/// so that two nodes admitting the same key's requests at once take turns: its bucket and
/// its count of jobs in flight are exact across the cluster. The queue-length bound is
/// approximate by the submissions committing at the same moment.
enum PostgresSubmitGate {
    /// Refuses a submission while at least `limit` jobs are QUEUED. As in SQLite, the span
    /// of sequence numbers from the oldest QUEUED job to the newest job bounds the count
    /// from above for two index lookups; only a span that reaches the limit is counted.
    static func checkQueueLength(_ connection: PostgresConnection, limit: Int, logger: Logger) async throws {
        let span =
            try await connection.value(
                Int64?.self,
                "SELECT (SELECT max(seq) FROM jobs) - (SELECT min(seq) FROM jobs WHERE status = 'QUEUED') + 1",
                logger: logger) ?? nil
        guard let span, span >= Int64(limit) else { return }
        let queued =
            try await connection.value(
                Int.self, "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'QUEUED' LIMIT \(limit)) q",
                logger: logger) ?? 0
        if queued >= limit {
            throw RateLimited(limit: .queueLength, value: limit, retryAfter: 5)
        }
    }

    /// A key's rate and in-flight limits.
    static func admit(
        _ connection: PostgresConnection, keyID: String, limits: SubmitLimits, now: Date, logger: Logger
    ) async throws {
        guard
            let row = try await connection.rows(
                "SELECT bucket_tokens, bucket_updated_at FROM api_keys WHERE id = \(keyID) FOR UPDATE", logger: logger
            ).first
        else { return }
        if limits.maxInFlight > 0 {
            let inFlight =
                try await connection.value(
                    Int.self,
                    """
                    SELECT count(*) FROM (
                        SELECT 1 FROM jobs WHERE key_id = \(keyID) AND status IN ('QUEUED', 'PROCESSING')
                        LIMIT \(limits.maxInFlight)) f
                    """, logger: logger) ?? 0
            if inFlight >= limits.maxInFlight {
                throw RateLimited(limit: .inFlight, value: limits.maxInFlight, retryAfter: 1)
            }
        }
        guard limits.perMinute > 0 else { return }
        let (tokens, updated) = try row.decode((Double?, Double?).self)
        var bucket =
            tokens.flatMap { tokens in
                updated.map { TokenBucket(tokens: tokens, updatedAt: Date(timeIntervalSince1970: $0)) }
            } ?? .full(burst: limits.burst, at: now)
        if let wait = bucket.take(now: now, perMinute: limits.perMinute, burst: limits.burst) {
            throw RateLimited(limit: .requestsPerMinute, value: limits.perMinute, retryAfter: wait)
        }
        try await connection.run(
            """
            UPDATE api_keys SET bucket_tokens = \(bucket.tokens), bucket_updated_at = \(bucket.updatedAt.timeIntervalSince1970)
            WHERE id = \(keyID)
            """, logger: logger)
    }
}
