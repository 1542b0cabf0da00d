import Foundation
import GRDB

/// A GRDB row as a ``ColumnReader``. Every read goes through the raw `DatabaseValue` and
/// throws ``UnreadableValue`` when it does not convert: GRDB's typed subscripts stop the
/// process instead (a credit balance stored as an out-of-range REAL once did, on every
/// request with that key).
struct SQLiteColumns: ColumnReader {
    let row: Row

    init(_ row: Row) { self.row = row }

    func string(_ index: Int) throws -> String { try required(index) }
    func optionalString(_ index: Int) throws -> String? { try optional(index) }
    func int(_ index: Int) throws -> Int { try required(index) }
    func optionalInt(_ index: Int) throws -> Int? { try optional(index) }
    func int64(_ index: Int) throws -> Int64 { try required(index) }
    func double(_ index: Int) throws -> Double { try required(index) }
    func optionalDouble(_ index: Int) throws -> Double? { try optional(index) }
    /// SQLite has no booleans: 0 or 1.
    func bool(_ index: Int) throws -> Bool { try (optional(index) as Int? ?? 0) != 0 }
    func optionalBool(_ index: Int) throws -> Bool? { try (optional(index) as Int?).map { $0 != 0 } }

    func required<Value: DatabaseValueConvertible>(_ index: Int) throws -> Value {
        guard let value: Value = try optional(index) else {
            throw UnreadableValue(column: column(index), stored: "NULL", expected: "\(Value.self)")
        }
        return value
    }

    func optional<Value: DatabaseValueConvertible>(_ index: Int) throws -> Value? {
        guard index < row.count else {
            throw UnreadableValue(column: "#\(index)", stored: "nothing", expected: "\(Value.self)")
        }
        let stored: DatabaseValue = row[index]
        if stored.isNull { return nil }
        guard let value = Value.fromDatabaseValue(stored) else {
            throw UnreadableValue(column: column(index), stored: "\(stored)", expected: "\(Value.self)")
        }
        return value
    }

    private func column(_ index: Int) -> String { row.columnNames.dropFirst(index).first ?? "#\(index)" }
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

    /// The first column of the first row, if any (and not NULL); a value that does not
    /// convert throws ``UnreadableValue``.
    func cachedValue<Value: DatabaseValueConvertible>(
        _ type: Value.Type, sql: String, arguments: StatementArguments = []
    ) throws -> Value? {
        guard let row = try cachedRow(sql: sql, arguments: arguments) else { return nil }
        return try SQLiteColumns(row).optional(0)
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
        case .balanceStaysWithin(let maximum):
            // Compared without adding, so that no sum can overflow.
            try db.cachedExecute(
                sql:
                    "UPDATE api_keys SET credits = COALESCE(credits, 0) + ? WHERE id = ? AND COALESCE(credits, 0) <= ?",
                arguments: [movement.amount, keyID, maximum - movement.amount])
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

    /// Folds the key's old ledger lines into one summary line as ``LedgerFold`` decides;
    /// returns how many lines went.
    static func fold(_ fold: LedgerFold, keyID: String, in db: Database) throws -> Int {
        let open = try db.cachedValue(
            Int64.self,
            sql: """
                SELECT MIN(credit_ledger.seq) FROM jobs
                JOIN credit_ledger ON credit_ledger.request_id = jobs.id AND credit_ledger.kind = 'reserve'
                WHERE jobs.key_id = ? AND jobs.status IN ('QUEUED', 'PROCESSING')
                """, arguments: [keyID])
        guard
            let end = try db.cachedValue(
                Int64.self, sql: "SELECT MAX(seq) FROM credit_ledger WHERE key_id = ? AND created_at < ? AND seq < ?",
                arguments: [keyID, fold.cutoff.timeIntervalSince1970, fold.limit(oldestOpenReservation: open)]),
            let row = try db.cachedRow(
                sql: "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM credit_ledger WHERE key_id = ? AND seq <= ?",
                arguments: [keyID, end])
        else { return 0 }
        let lines = try SQLiteColumns(row).int(0)
        guard fold.folds(lines: lines) else { return 0 }
        try db.cachedExecute(
            sql: "UPDATE credit_ledger SET kind = 'summary', amount = ?, request_id = NULL WHERE seq = ?",
            arguments: [try SQLiteColumns(row).int(1), end])
        try db.cachedExecute(sql: "DELETE FROM credit_ledger WHERE key_id = ? AND seq < ?", arguments: [keyID, end])
        return lines - 1
    }

    /// Makes a reservation, a grant or a top-up, or throws why not
    /// (``CreditPolicy/refusal(of:balance:)``: ``InsufficientCredits``, or
    /// ``APIKeyError/balanceTooLarge(balance:amount:maximum:)``).
    static func require(_ movement: CreditMovement, keyID: String, now: Date, in db: Database) throws {
        guard try !apply(movement, keyID: keyID, now: now, in: db) else { return }
        if let refusal = CreditPolicy.refusal(of: movement, balance: try balance(keyID: keyID, in: db)) {
            throw refusal
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
        if admission.queuedBytesLimit != nil {
            // The condition repeats the partial index's, so that SQLite uses it.
            facts.queuedBytes =
                try db.cachedValue(
                    Int.self,
                    sql: """
                        SELECT COALESCE(SUM(CASE WHEN status = 'QUEUED' THEN parameter_bytes ELSE 0 END), 0)
                        FROM jobs WHERE key_id = ? AND status IN ('QUEUED', 'PROCESSING')
                        """, arguments: [keyID]) ?? 0
        }
        if admission.usesBucket,
            let row = try db.cachedRow(
                sql: "SELECT bucket_tokens, bucket_updated_at FROM api_keys WHERE id = ?", arguments: [keyID])
        {
            let columns = SQLiteColumns(row)
            if let tokens = try columns.optionalDouble(0), let updated = try columns.optionalDate(1) {
                facts.bucket = TokenBucket(tokens: tokens, updatedAt: updated)
            }
        }
        guard let bucket = try admission.decide(facts) else { return }
        try db.cachedExecute(
            sql: "UPDATE api_keys SET bucket_tokens = ?, bucket_updated_at = ? WHERE id = ?",
            arguments: [bucket.tokens, bucket.updatedAt.timeIntervalSince1970, keyID])
    }
}
