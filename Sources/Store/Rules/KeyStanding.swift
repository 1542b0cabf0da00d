import Foundation

/// Whether a key's queued jobs may still run, as a worker reaching one of them sees it.
///
/// Revoking or disabling a key withdraws its QUEUED jobs in the same transaction. A
/// submission authenticated just before (its key read from the cache) can still enqueue
/// after that transaction: the worker that reaches such a job withdraws it then, with the
/// same message and refund, instead of running it. A job whose key has no row (none was
/// ever stored) is in standing.
struct KeyStanding: Sendable, Equatable {
    var revoked: Bool
    var disabled: Bool

    static let good = KeyStanding(revoked: false, disabled: false)

    /// The event a QUEUED job of this key takes when a worker reaches it.
    func event(worker: String, leaseUntil: Date) -> JobState.Event {
        guard revoked || disabled else { return .claim(worker: worker, leaseUntil: leaseUntil) }
        return .cancel(error: JobState.cancelledError(keyRevoked: revoked))
    }

    /// The two columns a claim statement adds after a job's, for `jobs.key_id`: whether
    /// the key is revoked, whether it is disabled (NULL when it has no row).
    static let columns = """
        (SELECT api_keys.revoked_at IS NOT NULL FROM api_keys WHERE api_keys.id = jobs.key_id), \
        (SELECT api_keys.disabled FROM api_keys WHERE api_keys.id = jobs.key_id)
        """

    /// The standing read from ``columns`` at `index` and the next.
    init(columns row: some ColumnReader, at index: Int) throws {
        revoked = try row.optionalBool(index) ?? false
        disabled = try row.optionalBool(index + 1) ?? false
    }

    init(revoked: Bool, disabled: Bool) {
        self.revoked = revoked
        self.disabled = disabled
    }
}
