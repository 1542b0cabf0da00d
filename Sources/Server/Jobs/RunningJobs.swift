import Synchronization

/// The jobs this process's workers are running, for the pool's keeper: one loop renews
/// all their leases (``holders``) instead of a timer per job, and when a renewal is
/// refused it calls ``loseLease(jobID:)``, which wakes the job's runner
/// (``waitUntilLeaseLost(jobID:)``, a child task next to the engine's), which then cancels
/// the engine.
///
/// Cancellation: like the other waits of the worker pool, a task cancelled before or while
/// it waits returns at once (here `false`) and leaves no waiter behind.
final class RunningJobs: Sendable {
    private struct Entry {
        let worker: String
        var leaseLost = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Starts tracking a job that `worker` runs. Pair with ``remove(jobID:)``.
    func insert(jobID: String, worker: String) {
        state.withLock { $0.entries[jobID] = Entry(worker: worker) }
    }

    /// Stops tracking the job; its waiters return `false`.
    func remove(jobID: String) {
        let waiters = state.withLock { $0.entries.removeValue(forKey: jobID)?.waiters.values.map { $0 } } ?? []
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// The running jobs whose leases are still held, with their workers, for renewal.
    var holders: [(jobID: String, worker: String)] {
        state.withLock { $0.entries.filter { !$0.value.leaseLost }.map { ($0.key, $0.value.worker) } }
    }

    /// Marks the job's lease as lost (the store refused to renew it: another worker may
    /// own the job now) and wakes its waiters with `true`. A no-op for untracked jobs.
    func loseLease(jobID: String) {
        let waiters: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            guard var entry = state.entries[jobID] else { return [] }
            entry.leaseLost = true
            let waiters = Array(entry.waiters.values)
            entry.waiters.removeAll()
            state.entries[jobID] = entry
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Returns `true` once the job's lease is lost (at once if it already is); `false` when
    /// the job is removed or untracked, or when the calling task is cancelled.
    func waitUntilLeaseLost(jobID: String) async -> Bool {
        let id = state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { state in
                    guard var entry = state.entries[jobID] else { return false }
                    if entry.leaseLost { return true }
                    if Task.isCancelled { return false }
                    entry.waiters[id] = continuation
                    state.entries[jobID] = entry
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            state.withLock { $0.entries[jobID]?.waiters.removeValue(forKey: id) }?.resume(returning: false)
        }
    }

    /// How many tasks wait in ``waitUntilLeaseLost(jobID:)``, for tests' hand-offs.
    var waiterCount: Int {
        state.withLock { $0.entries.values.reduce(0) { $0 + $1.waiters.count } }
    }
}
