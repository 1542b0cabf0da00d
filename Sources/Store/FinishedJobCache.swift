import Foundation
import NanoBananaAPI
import Synchronization

/// A ``JobStore`` in front of another that remembers finished jobs. A COMPLETED or FAILED
/// record never changes again until retention deletes it, so serving it from memory is
/// correct whichever process finished it; clients that keep polling a finished request
/// (and the result route) then cost no database read. Deletions through this store evict.
/// Unfinished jobs are always read from the underlying store.
public final class FinishedJobCache: JobStore {
    private let base: any JobStore
    private let capacity: Int
    private let records = Mutex<[String: JobRecord]>([:])

    /// - Parameter capacity: the most records kept; past it, the cache starts afresh.
    public init(_ base: any JobStore, capacity: Int = 100_000) {
        self.base = base
        self.capacity = capacity
    }

    public func job(id: String) async throws -> JobRecord? {
        if let cached = records.withLock({ $0[id] }) { return cached }
        let record = try await base.job(id: id)
        if let record, record.status.isTerminal { remember(record) }
        return record
    }

    public func deleteFinished(before cutoff: Date, limit: Int) async throws -> [JobRecord] {
        let deleted = try await base.deleteFinished(before: cutoff, limit: limit)
        records.withLock { records in
            for job in deleted { records.removeValue(forKey: job.id) }
        }
        return deleted
    }

    private func remember(_ record: JobRecord) {
        records.withLock { records in
            if records.count >= capacity { records.removeAll(keepingCapacity: true) }
            records[record.id] = record
        }
    }

    // MARK: - Forwarded

    public func enqueue(_ job: NewJob) async throws -> JobRecord { try await base.enqueue(job) }

    public func claim(worker: String, lease: TimeInterval) async throws -> ClaimedJob? {
        try await base.claim(worker: worker, lease: lease)
    }

    public func renewLease(jobID: String, worker: String, lease: TimeInterval) async throws -> Bool {
        try await base.renewLease(jobID: jobID, worker: worker, lease: lease)
    }

    public func complete(jobID: String, worker: String, output: JobOutput, image: [UInt8]) async throws -> Bool {
        try await base.complete(jobID: jobID, worker: worker, output: output, image: image)
    }

    public func complete(
        jobID: String, worker: String, output: JobOutput, image: [UInt8], claimingNextFor lease: TimeInterval
    ) async throws -> (completed: Bool, next: ClaimedJob?) {
        try await base.complete(jobID: jobID, worker: worker, output: output, image: image, claimingNextFor: lease)
    }

    public func fail(jobID: String, worker: String, error: String, code: FailureCode) async throws -> Bool {
        try await base.fail(jobID: jobID, worker: worker, error: error, code: code)
    }

    public func release(jobID: String, worker: String) async throws -> Bool {
        try await base.release(jobID: jobID, worker: worker)
    }

    public func expireAllLeases() async throws -> Int { try await base.expireAllLeases() }

    public func image(key: String) async throws -> [UInt8]? { try await base.image(key: key) }

    public func queuePosition(of job: JobRecord) async throws -> Int? { try await base.queuePosition(of: job) }

    public func counts() async throws -> [JobStatus: Int] { try await base.counts() }
}
