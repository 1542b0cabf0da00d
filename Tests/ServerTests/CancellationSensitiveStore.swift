import Foundation
import NanoBananaAPI
import Store

/// A job store whose workers' writes fail with `CancellationError` when the calling task is
/// cancelled, as a store client that abandons a cancelled task's query does (GRDB's async
/// `write`, for one). Everything else goes to the real store underneath. It shows that the
/// runner records a job's outcome even when the worker's task is being cancelled.
struct CancellationSensitiveStore: JobStore {
    let base: any JobStore

    func enqueue(_ job: NewJob, idempotency: IdempotentSubmit?) async throws -> Enqueued {
        try await base.enqueue(job, idempotency: idempotency)
    }
    func cancelQueued(jobID: String, error: String) async throws -> Bool {
        try await base.cancelQueued(jobID: jobID, error: error)
    }

    func claim(worker: String, lease: TimeInterval) async throws -> ClaimedJob? {
        try await base.claim(worker: worker, lease: lease)
    }

    func renewLease(jobID: String, worker: String, lease: TimeInterval) async throws -> Bool {
        try await base.renewLease(jobID: jobID, worker: worker, lease: lease)
    }

    func complete(jobID: String, worker: String, output: JobOutput, image: [UInt8]) async throws -> Bool {
        try Task.checkCancellation()
        return try await base.complete(jobID: jobID, worker: worker, output: output, image: image)
    }

    func complete(
        jobID: String, worker: String, output: JobOutput, image: [UInt8], claimingNextFor lease: TimeInterval
    ) async throws -> (completed: Bool, next: ClaimedJob?) {
        try Task.checkCancellation()
        return try await base.complete(
            jobID: jobID, worker: worker, output: output, image: image, claimingNextFor: lease)
    }

    func image(key: String) async throws -> [UInt8]? { try await base.image(key: key) }

    func fail(jobID: String, worker: String, error: String, code: FailureCode) async throws -> Bool {
        try Task.checkCancellation()
        return try await base.fail(jobID: jobID, worker: worker, error: error, code: code)
    }

    func release(jobID: String, worker: String) async throws -> Bool {
        try Task.checkCancellation()
        return try await base.release(jobID: jobID, worker: worker)
    }

    func expireAllLeases() async throws -> Int { try await base.expireAllLeases() }

    func job(id: String) async throws -> JobRecord? { try await base.job(id: id) }

    func queuePosition(of job: JobRecord) async throws -> Int? { try await base.queuePosition(of: job) }

    func deleteFinished(before cutoff: Date, limit: Int) async throws -> [JobRecord] {
        try await base.deleteFinished(before: cutoff, limit: limit)
    }

    func foldLedger(before cutoff: Date) async throws -> Int { try await base.foldLedger(before: cutoff) }

    func reclaimSpace() async throws -> Int { try await base.reclaimSpace() }

    func counts() async throws -> [JobStatus: Int] { try await base.counts() }

    func deleteIdempotencyKeys(before cutoff: Date, limit: Int) async throws -> Int {
        try await base.deleteIdempotencyKeys(before: cutoff, limit: limit)
    }
}
