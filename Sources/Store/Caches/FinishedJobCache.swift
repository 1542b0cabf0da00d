import Foundation
import NanoBananaAPI
import Synchronization

/// A ``JobReader`` in front of another that remembers finished jobs. A COMPLETED or FAILED
/// record never changes again until retention deletes it, so serving it from memory is
/// correct whichever process finished it; clients that keep polling a finished request
/// (and the result route) then cost no database read. Whoever deletes jobs (the retention
/// sweeper) tells the cache with ``forget(_:)``. Unfinished jobs are always read from the
/// underlying reader.
public final class FinishedJobCache: JobReader {
    private let base: any JobReader
    private let capacity: Int
    private let records = Mutex<[String: JobRecord]>([:])

    /// - Parameter capacity: the most records kept; past it, the cache starts afresh.
    public init(_ base: any JobReader, capacity: Int = 100_000) {
        self.base = base
        self.capacity = capacity
    }

    public func job(id: String) async throws -> JobRecord? {
        if let cached = records.withLock({ $0[id] }) { return cached }
        let record = try await base.job(id: id)
        if let record, record.status.isTerminal { remember(record) }
        return record
    }

    /// Forgets deleted jobs.
    public func forget(_ deleted: [JobRecord]) {
        guard !deleted.isEmpty else { return }
        records.withLock { records in
            for job in deleted { records.removeValue(forKey: job.id) }
        }
    }

    public func queuePosition(of job: JobRecord) async throws -> Int? { try await base.queuePosition(of: job) }

    public func image(key: String) async throws -> [UInt8]? { try await base.image(key: key) }

    private func remember(_ record: JobRecord) {
        records.withLock { records in
            if records.count >= capacity { records.removeAll(keepingCapacity: true) }
            records[record.id] = record
        }
    }
}
