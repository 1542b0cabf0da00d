import Foundation
import PostgresNIO

/// Idempotent submits on PostgreSQL (``IdempotentSubmit``), for any number of nodes: the
/// record's primary key decides a race. A submission inserts the key's record first; a
/// second one with the same key waits on that insert until the first commits (then finds
/// its record and replays its job) or rolls back (then inserts its own).
extension PostgresJobStore {
    /// Claims the key for `job` (its record written, to commit with the job), or returns the
    /// key's earlier job to replay; throws ``IdempotencyKeyReused`` when the key was used
    /// for another request.
    func claimIdempotencyKey(
        _ submit: IdempotentSubmit, for job: NewJob, now: Date, on connection: PostgresConnection
    ) async throws -> JobRecord? {
        let key = submit.key.value
        let created = now.timeIntervalSince1970
        // A record swept between the insert that found it and the read is inserted again.
        for _ in 0..<3 {
            let inserted = try await connection.rows(
                """
                INSERT INTO idempotency_keys (key_id, idempotency_key, fingerprint, job_id, created_at)
                VALUES (\(job.keyID), \(key), \(submit.fingerprint), \(job.id), \(created))
                ON CONFLICT (key_id, idempotency_key) DO NOTHING RETURNING 1
                """, logger: logger)
            if !inserted.isEmpty { return nil }
            var sql = SQLBuilder()
            let select = IdempotencySchema.selectRecord(placeholders: (sql.bind(job.keyID), sql.bind(key)))
            guard let row = try await connection.rows(sql.query(select + " FOR UPDATE"), logger: logger).first else {
                continue
            }
            let columns = PostgresColumns(row)
            // A statement of its own, so that it sees a job committed while the lock was awaited.
            let earlier = try await self.job(id: try columns.string(1), on: connection)
            switch submit.decide(try IdempotentSubmit.Stored(columns: columns, job: earlier), now: now) {
            case .mismatch: throw IdempotencyKeyReused()
            case .replay: return earlier
            case .fresh:
                // A stale record, locked: this submission's from now on.
                try await connection.run(
                    """
                    UPDATE idempotency_keys SET fingerprint = \(submit.fingerprint), job_id = \(job.id), \
                    created_at = \(created) WHERE key_id = \(job.keyID) AND idempotency_key = \(key)
                    """, logger: logger)
                return nil
            }
        }
        throw StoreUnavailable(reason: "the idempotency key's record kept changing")
    }

    public func deleteIdempotencyKeys(before cutoff: Date, limit: Int) async throws -> Int {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.value(
                Int.self,
                """
                WITH doomed AS (
                    SELECT key_id, idempotency_key FROM idempotency_keys
                    WHERE created_at < \(cutoff.timeIntervalSince1970) LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM idempotency_keys USING doomed
                    WHERE idempotency_keys.key_id = doomed.key_id
                    AND idempotency_keys.idempotency_key = doomed.idempotency_key RETURNING 1
                ) SELECT count(*) FROM gone
                """, logger: logger) ?? 0
        }
    }
}
