import Foundation
import GRDB

/// One movement of a key's credits. For a metered key the amounts always add up to its
/// balance: a grant at creation, top-ups, a reservation per submitted request, then for
/// each request either a settlement (0: the reservation stands) or a refund.
public struct CreditLedgerEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case grant, topUp = "top_up", reserve, settle, refund
    }

    public var kind: Kind
    public var amount: Int
    public var balanceAfter: Int
    public var requestID: String?
    public var createdAt: Date
}

/// A request the key cannot pay for: HTTP 406.
public struct InsufficientCredits: Error, Sendable, Equatable {
    public let price: Int
    public let balance: Int
}

/// The credit rules, applied inside the store's transactions so that a reservation commits
/// with its job, and a settlement or refund with the job's last transition.
enum CreditLedger {
    /// Takes `price` from a metered key (keys without a balance are unmetered), or throws.
    static func reserve(_ db: Database, keyID: String, price: Int, requestID: String, now: Date) throws {
        guard price > 0 else { return }
        try db.cachedExecute(
            sql: "UPDATE api_keys SET credits = credits - ? WHERE id = ? AND credits IS NOT NULL AND credits >= ?",
            arguments: [price, keyID, price])
        if db.changesCount == 0 {
            guard let balance = try balance(db, keyID: keyID) else { return }
            throw InsufficientCredits(price: price, balance: balance)
        }
        try record(db, keyID: keyID, kind: .reserve, amount: -price, requestID: requestID, now: now)
    }

    /// Settles (COMPLETED) or refunds (FAILED) what a finished job reserved.
    static func finish(_ db: Database, keyID: String, price: Int, requestID: String, completed: Bool, now: Date) throws
    {
        // The reservation decides, not the key's balance today: a job submitted while its
        // key was unmetered reserved nothing, even if the key has been topped up since.
        guard price > 0,
            try db.cachedValue(
                Bool.self,
                sql:
                    "SELECT EXISTS (SELECT 1 FROM credit_ledger WHERE key_id = ? AND request_id = ? AND kind = 'reserve')",
                arguments: [keyID, requestID]) == true
        else { return }
        if completed {
            try record(db, keyID: keyID, kind: .settle, amount: 0, requestID: requestID, now: now)
        } else {
            try db.cachedExecute(
                sql: "UPDATE api_keys SET credits = credits + ? WHERE id = ?", arguments: [price, keyID])
            try record(db, keyID: keyID, kind: .refund, amount: price, requestID: requestID, now: now)
        }
    }

    /// Adds credits (a grant or a top-up), making an unmetered key metered.
    static func add(_ db: Database, keyID: String, amount: Int, kind: CreditLedgerEntry.Kind, now: Date) throws {
        try db.cachedExecute(
            sql: "UPDATE api_keys SET credits = COALESCE(credits, 0) + ? WHERE id = ?", arguments: [amount, keyID])
        try record(db, keyID: keyID, kind: kind, amount: amount, requestID: nil, now: now)
    }

    /// The key's balance; `nil` for an unmetered key.
    static func balance(_ db: Database, keyID: String) throws -> Int? {
        try db.cachedValue(Int.self, sql: "SELECT credits FROM api_keys WHERE id = ?", arguments: [keyID])
    }

    private static func record(
        _ db: Database, keyID: String, kind: CreditLedgerEntry.Kind, amount: Int, requestID: String?, now: Date
    ) throws {
        try db.cachedExecute(
            sql: """
                INSERT INTO credit_ledger (key_id, request_id, kind, amount, balance_after, created_at)
                VALUES (?, ?, ?, ?, (SELECT credits FROM api_keys WHERE id = ?), ?)
                """,
            arguments: [keyID, requestID, kind.rawValue, amount, keyID, now.timeIntervalSince1970])
    }

    static func entries(_ db: Database, keyID: String) throws -> [CreditLedgerEntry] {
        try db.cachedRows(
            sql:
                "SELECT kind, amount, balance_after, request_id, created_at FROM credit_ledger WHERE key_id = ? ORDER BY seq",
            arguments: [keyID]
        ).map { row in
            CreditLedgerEntry(
                kind: CreditLedgerEntry.Kind(rawValue: row[0]) ?? .grant, amount: row[1], balanceAfter: row[2] ?? 0,
                requestID: row[3], createdAt: Date(timeIntervalSince1970: row[4]))
        }
    }
}
