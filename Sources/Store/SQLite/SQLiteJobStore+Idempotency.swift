import Foundation
import GRDB

/// Idempotent submits on SQLite (``IdempotentSubmit``). The enqueue transaction holds
/// SQLite's one write lock, so reading a key's record and writing it cannot interleave with
/// another submission's: concurrent submissions with one key take turns, and the first
/// enqueues.
extension SQLiteJobStore {
    /// The key's earlier job when the submission replays it; `nil` when it is fresh; throws
    /// ``IdempotencyKeyReused`` when the key was used for another request.
    static func replay(
        _ submit: IdempotentSubmit, keyID: String, now: Date, in db: Database
    ) throws -> JobRecord? {
        guard
            let row = try db.cachedRow(
                sql: IdempotencySchema.selectRecord(placeholders: ("?", "?")), arguments: [keyID, submit.key.value])
        else { return nil }
        let columns = SQLiteColumns(row)
        let earlier = try fetch(db, id: try columns.string(1))
        switch submit.decide(try IdempotentSubmit.Stored(columns: columns, job: earlier), now: now) {
        case .fresh: return nil
        case .mismatch: throw IdempotencyKeyReused()
        case .replay: return earlier
        }
    }

    /// Writes the key's record for the job just enqueued, over a stale one.
    static func remember(_ submit: IdempotentSubmit, for job: NewJob, now: Date, in db: Database) throws {
        try db.cachedExecute(
            sql: """
                INSERT OR REPLACE INTO idempotency_keys (key_id, idempotency_key, fingerprint, job_id, created_at)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [job.keyID, submit.key.value, submit.fingerprint, job.id, now.timeIntervalSince1970])
    }

    public func deleteIdempotencyKeys(before cutoff: Date, limit: Int) async throws -> Int {
        try pool.writeNow { db in
            try db.cachedExecute(
                sql: """
                    DELETE FROM idempotency_keys WHERE rowid IN (
                        SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT ?)
                    """,
                arguments: [cutoff.timeIntervalSince1970, limit])
            return db.changesCount
        }
    }
}
