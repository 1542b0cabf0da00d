/// The idempotency keys' table, the same in both stores but for the type of times: one row
/// per API key and `Idempotency-Key` (``IdempotentSubmit``), written in the transaction
/// that enqueues its job. Its primary key decides a race between two submissions with the
/// same key: the second waits for the first and then reads its job. No foreign key to the
/// jobs: retention deletes a job first, and its key then reads as fresh.
enum IdempotencySchema {
    static func tables(time: String) -> String {
        """
        CREATE TABLE idempotency_keys (
            key_id TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            job_id TEXT NOT NULL,
            created_at \(time) NOT NULL,
            PRIMARY KEY (key_id, idempotency_key)
        );
        CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
        """
    }

    /// Selects a key's record, as ``IdempotentSubmit/Stored/init(columns:job:)`` reads it;
    /// two parameters: the API key's id and the idempotency key. Its job is read by a
    /// statement of its own: on PostgreSQL this one locks the record, and a statement that
    /// waited for the lock sees a job committed meanwhile only in a new snapshot.
    static func selectRecord(placeholders: (String, String)) -> String {
        """
        SELECT fingerprint, job_id, created_at FROM idempotency_keys
        WHERE key_id = \(placeholders.0) AND idempotency_key = \(placeholders.1)
        """
    }
}
