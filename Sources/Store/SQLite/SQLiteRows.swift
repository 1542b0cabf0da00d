import Foundation
import GRDB

/// A GRDB row as a ``ColumnReader``.
struct SQLiteColumns: ColumnReader {
    let row: Row

    init(_ row: Row) { self.row = row }

    func string(_ index: Int) -> String { row[index] }
    func optionalString(_ index: Int) -> String? { row[index] }
    func int(_ index: Int) -> Int { row[index] }
    func optionalInt(_ index: Int) -> Int? { row[index] }
    func int64(_ index: Int) -> Int64 { row[index] }
    func double(_ index: Int) -> Double { row[index] }
    func optionalDouble(_ index: Int) -> Double? { row[index] }
    /// SQLite has no booleans: 0 or 1.
    func bool(_ index: Int) -> Bool { (row[index] as Int? ?? 0) != 0 }
}

extension Database {
    // Statements prepared once per connection and reused: parsing SQL on every call was
    // the largest cost of a status lookup when measured.

    func cachedExecute(sql: String, arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func cachedRow(sql: String, arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func cachedRows(sql: String, arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    func cachedValue<Value: DatabaseValueConvertible>(
        _ type: Value.Type, sql: String, arguments: StatementArguments = []
    ) throws -> Value? {
        try Value.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    /// Rows decoded as a stored record.
    func records<Record>(
        _ decode: (SQLiteColumns) throws -> Record, sql: String, arguments: StatementArguments = []
    ) throws -> [Record] {
        try cachedRows(sql: sql, arguments: arguments).map { try decode(SQLiteColumns($0)) }
    }
}

/// The rules' statements in SQLite, inside the caller's write transaction (which SQLite
/// holds alone, so nothing needs locking).
enum SQLiteRules {
    /// Runs a ``CreditMovement``; `false` when its condition did not hold.
    @discardableResult
    static func apply(_ movement: CreditMovement, keyID: String, now: Date, in db: Database) throws -> Bool {
        switch movement.condition {
        case .balanceCovers(let price):
            try db.cachedExecute(
                sql: "UPDATE api_keys SET credits = credits + ? WHERE id = ? AND credits IS NOT NULL AND credits >= ?",
                arguments: [movement.amount, keyID, price])
        case .reserved:
            try db.cachedExecute(
                sql: """
                    UPDATE api_keys SET credits = credits + ? WHERE id = ? AND credits IS NOT NULL
                    AND EXISTS (SELECT 1 FROM credit_ledger WHERE key_id = ? AND request_id = ? AND kind = 'reserve')
                    """,
                arguments: [movement.amount, keyID, keyID, movement.requestID])
        case .always:
            try db.cachedExecute(
                sql: "UPDATE api_keys SET credits = COALESCE(credits, 0) + ? WHERE id = ?",
                arguments: [movement.amount, keyID])
        }
        guard db.changesCount > 0 else { return false }
        try db.cachedExecute(
            sql: """
                INSERT INTO credit_ledger (key_id, request_id, kind, amount, balance_after, created_at)
                VALUES (?, ?, ?, ?, (SELECT credits FROM api_keys WHERE id = ?), ?)
                """,
            arguments: [
                keyID, movement.requestID, movement.kind.rawValue, movement.amount, keyID, now.timeIntervalSince1970,
            ])
        return true
    }

    /// Reserves a submission's price, or throws ``InsufficientCredits``.
    static func reserve(_ reservation: CreditMovement, keyID: String, now: Date, in db: Database) throws {
        guard try !apply(reservation, keyID: keyID, now: now, in: db) else { return }
        if let shortfall = CreditPolicy.shortfall(of: reservation, balance: try balance(keyID: keyID, in: db)) {
            throw shortfall
        }
    }

    /// The key's balance; `nil` for an unmetered key.
    static func balance(keyID: String, in db: Database) throws -> Int? {
        try db.cachedValue(Int.self, sql: "SELECT credits FROM api_keys WHERE id = ?", arguments: [keyID])
    }

    /// Reads what ``SubmitAdmission`` asks for, and stores the bucket it decides.
    static func admit(_ admission: SubmitAdmission, keyID: String, in db: Database) throws {
        var facts = SubmitAdmission.Facts()
        if let limit = admission.queueCountLimit(
            span: try db.cachedValue(
                Int64.self,
                sql: "SELECT (SELECT MAX(seq) FROM jobs) - (SELECT MIN(seq) FROM jobs WHERE status = 'QUEUED') + 1"))
        {
            facts.queued =
                try db.cachedValue(
                    Int.self, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE status = 'QUEUED' LIMIT ?)",
                    arguments: [limit]) ?? 0
        }
        if let limit = admission.inFlightLimit {
            facts.inFlight =
                try db.cachedValue(
                    Int.self,
                    sql: """
                        SELECT COUNT(*) FROM (
                            SELECT 1 FROM jobs WHERE key_id = ? AND status IN ('QUEUED', 'PROCESSING') LIMIT ?)
                        """, arguments: [keyID, limit]) ?? 0
        }
        if admission.usesBucket,
            let row = try db.cachedRow(
                sql: "SELECT bucket_tokens, bucket_updated_at FROM api_keys WHERE id = ?", arguments: [keyID]),
            let tokens = row[0] as Double?, let updated = row[1] as Double?
        {
            facts.bucket = TokenBucket(tokens: tokens, updatedAt: Date(timeIntervalSince1970: updated))
        }
        guard let bucket = try admission.decide(facts) else { return }
        try db.cachedExecute(
            sql: "UPDATE api_keys SET bucket_tokens = ?, bucket_updated_at = ? WHERE id = ?",
            arguments: [bucket.tokens, bucket.updatedAt.timeIntervalSince1970, keyID])
    }
}
