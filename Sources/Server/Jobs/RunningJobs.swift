import Foundation
import Synchronization

/// The jobs this process's workers are running, with their deadlines and the tasks that
/// run their engines. One keeper loop renews all their leases and cancels the ones past
/// their deadline, instead of two timers and three tasks per job.
final class RunningJobs: Sendable {
    /// Why a job's engine task was cancelled by the keeper.
    enum Stop: Sendable, Equatable {
        case deadline
        case leaseLost
    }

    struct Entry: Sendable {
        let worker: String
        let deadline: ContinuousClock.Instant
        let task: Task<Void, Never>
        /// Releases the worker waiting for this job, even if the engine ignores cancellation.
        let release: @Sendable () -> Void
        var stop: Stop?
    }

    private let entries = Mutex<[String: Entry]>([:])

    func insert(
        jobID: String, worker: String, deadline: ContinuousClock.Instant, task: Task<Void, Never>,
        release: @escaping @Sendable () -> Void
    ) {
        entries.withLock { $0[jobID] = Entry(worker: worker, deadline: deadline, task: task, release: release) }
    }

    /// Forgets the job and says why the keeper stopped it, if it did.
    func remove(jobID: String) -> Stop? {
        entries.withLock { $0.removeValue(forKey: jobID)?.stop }
    }

    /// The running jobs and their workers, for lease renewal.
    var holders: [(jobID: String, worker: String)] {
        entries.withLock { $0.map { ($0.key, $0.value.worker) } }
    }

    /// Cancels the job's engine task and releases its worker, remembering why.
    func stop(jobID: String, because reason: Stop) {
        let entry: Entry? = entries.withLock { entries in
            guard entries[jobID]?.stop == nil else { return nil }
            entries[jobID]?.stop = reason
            return entries[jobID]
        }
        entry?.task.cancel()
        entry?.release()
    }

    /// Cancels the job's engine task without marking a stop (the worker itself is being
    /// cancelled: shutdown).
    func cancel(jobID: String) {
        entries.withLock { $0[jobID]?.task }?.cancel()
    }

    /// Cancels every job past its deadline.
    func stopOverdue(now: ContinuousClock.Instant) {
        let overdue = entries.withLock { $0.filter { $0.value.deadline <= now && $0.value.stop == nil }.map(\.key) }
        for jobID in overdue { stop(jobID: jobID, because: .deadline) }
    }
}
