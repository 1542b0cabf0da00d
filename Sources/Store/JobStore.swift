import Foundation
import NanoBananaAPI

/// The read side of the jobs: what the status, result and file routes need. A cache of
/// finished jobs (``FinishedJobCache``) wraps only this.
public protocol JobReader: Sendable {
    /// One job, whoever owns it; ownership is checked by the caller.
    func job(id: String) async throws -> JobRecord?

    /// 1 for the next job to be claimed; `nil` when the job is not QUEUED.
    func queuePosition(of job: JobRecord) async throws -> Int?

    /// The image a completed job stored.
    func image(key: String) async throws -> [UInt8]?
}

/// The worker side of the jobs: claim, keep, finish or hand back. Every transition goes
/// through ``JobState`` so that all stores obey one lifecycle.
///
/// Methods that act for a worker return `false` (rather than throwing) when the worker no
/// longer holds the job: its lease ran out and someone else may have it.
public protocol JobQueue: Sendable {
    /// Takes the oldest runnable job for `worker` until `now + lease`. Jobs whose lease ran
    /// out are returned to the queue (or failed, past their attempts) first, as
    /// ``LeaseSweep`` paces it.
    func claim(worker: String, lease: TimeInterval) async throws -> ClaimedJob?

    /// Extends the lease of a job the worker holds.
    func renewLease(jobID: String, worker: String, lease: TimeInterval) async throws -> Bool

    /// Records the output of a job the worker holds, and its image under
    /// `output.blobKey`, in one transaction: COMPLETED with its image, or nothing.
    /// A finished job's parameters are dropped (they may hold large inline images).
    func complete(jobID: String, worker: String, output: JobOutput, image: [UInt8]) async throws -> Bool

    /// ``complete(jobID:worker:output:image:)``, then, in the same transaction,
    /// ``claim(worker:lease:)`` of the next job for the same worker: one commit instead of
    /// two for a busy worker.
    func complete(
        jobID: String, worker: String, output: JobOutput, image: [UInt8], claimingNextFor lease: TimeInterval
    )
        async throws -> (completed: Bool, next: ClaimedJob?)

    /// Fails a job the worker holds, with a sentence for the client.
    func fail(jobID: String, worker: String, error: String, code: FailureCode) async throws -> Bool

    /// Hands a held job back to the queue without counting the attempt (graceful shutdown).
    func release(jobID: String, worker: String) async throws -> Bool
}

/// The durable queue and record of jobs: both sides, and what only the owner of a store
/// does (submitting, recovery at start, retention).
public protocol JobStore: JobReader, JobQueue {
    /// Stores a new QUEUED job, after ``SubmitAdmission`` and the credit reservation
    /// (``CreditPolicy``), in one transaction. With `idempotency`, the key's record decides
    /// first (``IdempotentSubmit/decide(_:now:)``): the same request within the window
    /// returns the key's earlier job as it is now, enqueuing and charging nothing
    /// (``Enqueued/replayed``); another request throws ``IdempotencyKeyReused``; otherwise
    /// the job is enqueued and the record written in the same transaction. Of concurrent
    /// submissions with one key, exactly one enqueues, on any number of nodes.
    func enqueue(_ job: NewJob, idempotency: IdempotentSubmit?) async throws -> Enqueued

    /// Withdraws a job no worker has taken yet (its v1 client went away): FAILED with
    /// `error` (``JobState/Event/cancel(error:)``) and refunded, never run. `false` when it
    /// is running or has ended.
    func cancelQueued(jobID: String, error: String) async throws -> Bool

    /// Ends every lease at once, so the jobs are claimed again. For a single-node store at
    /// start-up, when any PROCESSING job belonged to a process that is gone.
    func expireAllLeases() async throws -> Int

    /// Deletes finished jobs completed before `cutoff`, with their images, and returns them.
    func deleteFinished(before cutoff: Date, limit: Int) async throws -> [JobRecord]

    /// Folds every key's credit ledger lines older than `cutoff` into one summary line per
    /// key (``LedgerFold``), so the ledger stays bounded and still adds up to the balance;
    /// returns how many lines went.
    func foldLedger(before cutoff: Date) async throws -> Int

    /// Gives space that deletions freed back to the file system, a bounded step per call;
    /// returns the bytes given back. PostgreSQL's autovacuum does this on its own (0).
    func reclaimSpace() async throws -> Int

    /// How many jobs are in each status.
    func counts() async throws -> [JobStatus: Int]

    /// Deletes up to `limit` idempotency records created before `cutoff`
    /// (``IdempotentSubmit/expiry(now:)``); returns how many went.
    func deleteIdempotencyKeys(before cutoff: Date, limit: Int) async throws -> Int
}

extension JobStore {
    /// Stores a new QUEUED job with no idempotency key.
    public func enqueue(_ job: NewJob) async throws -> JobRecord {
        try await enqueue(job, idempotency: nil).job
    }
}
