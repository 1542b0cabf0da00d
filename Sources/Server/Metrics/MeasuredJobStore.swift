import Foundation
import NanoBananaAPI
import Store

/// A ``JobStore`` that times every operation of the store it wraps (``StoreTimers``): the
/// one seam both stores pass through, so neither store knows about metrics.
struct MeasuredJobStore: JobStore {
    let base: any JobStore
    let timers: StoreTimers

    func job(id: String) async throws -> JobRecord? {
        try await timers.measure(.job) { try await base.job(id: id) }
    }

    func queuePosition(of job: JobRecord) async throws -> Int? {
        try await timers.measure(.queuePosition) { try await base.queuePosition(of: job) }
    }

    func image(key: String) async throws -> [UInt8]? {
        try await timers.measure(.image) { try await base.image(key: key) }
    }

    func claim(worker: String, lease: TimeInterval) async throws -> ClaimedJob? {
        try await timers.measure(.claim) { try await base.claim(worker: worker, lease: lease) }
    }

    func renewLease(jobID: String, worker: String, lease: TimeInterval) async throws -> Bool {
        try await timers.measure(.renewLease) { try await base.renewLease(jobID: jobID, worker: worker, lease: lease) }
    }

    func complete(jobID: String, worker: String, output: JobOutput, image: [UInt8]) async throws -> Bool {
        try await timers.measure(.complete) {
            try await base.complete(jobID: jobID, worker: worker, output: output, image: image)
        }
    }

    func complete(
        jobID: String, worker: String, output: JobOutput, image: [UInt8], claimingNextFor lease: TimeInterval
    ) async throws -> (completed: Bool, next: ClaimedJob?) {
        try await timers.measure(.completeAndClaim) {
            try await base.complete(jobID: jobID, worker: worker, output: output, image: image, claimingNextFor: lease)
        }
    }

    func fail(jobID: String, worker: String, error: String, code: FailureCode) async throws -> Bool {
        try await timers.measure(.fail) { try await base.fail(jobID: jobID, worker: worker, error: error, code: code) }
    }

    func release(jobID: String, worker: String) async throws -> Bool {
        try await timers.measure(.release) { try await base.release(jobID: jobID, worker: worker) }
    }

    func enqueue(_ job: NewJob, idempotency: IdempotentSubmit?) async throws -> Enqueued {
        try await timers.measure(.enqueue) { try await base.enqueue(job, idempotency: idempotency) }
    }

    func cancelQueued(jobID: String, error: String) async throws -> Bool {
        try await timers.measure(.cancelQueued) { try await base.cancelQueued(jobID: jobID, error: error) }
    }

    func expireAllLeases() async throws -> Int {
        try await timers.measure(.expireAllLeases) { try await base.expireAllLeases() }
    }

    func deleteFinished(before cutoff: Date, limit: Int) async throws -> [JobRecord] {
        try await timers.measure(.deleteFinished) { try await base.deleteFinished(before: cutoff, limit: limit) }
    }

    func foldLedger(before cutoff: Date) async throws -> Int {
        try await timers.measure(.foldLedger) { try await base.foldLedger(before: cutoff) }
    }

    func reclaimSpace() async throws -> Int {
        try await timers.measure(.reclaimSpace) { try await base.reclaimSpace() }
    }

    func counts() async throws -> [JobStatus: Int] {
        try await timers.measure(.counts) { try await base.counts() }
    }

    func deleteIdempotencyKeys(before cutoff: Date, limit: Int) async throws -> Int {
        try await timers.measure(.deleteIdempotencyKeys) {
            try await base.deleteIdempotencyKeys(before: cutoff, limit: limit)
        }
    }
}
