import Synchronization

/// The jobs this process's workers are running, for the pool's keeper: one loop renews
/// all their leases (``holders``) instead of a timer per job, stops the jobs past their
/// deadline (``stopOverdue(now:)``), and when a renewal is refused calls
/// ``loseLease(jobID:)``. Stopping a job runs the `onStop` its runner registered (which
/// cancels the engine) and records why (``stopReason(jobID:)``); tasks may also wait for a
/// lost lease (``waitUntilLeaseLost(jobID:)``).
///
/// Cancellation: like the other waits of the worker pool, a task cancelled before or while
/// it waits returns at once (here `false`) and leaves no waiter behind.
final class RunningJobs: Sendable {
    /// Why the keeper stopped a job.
    enum Stop: Sendable, Equatable {
        case deadline
        case leaseLost
    }

    private struct Entry {
        let worker: String
        var deadline: ContinuousClock.Instant?
        var onStop: (@Sendable () -> Void)?
        var stop: Stop?
        var leaseLost = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Starts tracking a job that `worker` runs. Pair with ``remove(jobID:)``.
    /// - Parameters:
    ///   - deadline: when ``stopOverdue(now:)`` stops it.
    ///   - onStop: runs once when the keeper stops the job (its deadline, a lost lease).
    func insert(
        jobID: String, worker: String, deadline: ContinuousClock.Instant? = nil,
        onStop: (@Sendable () -> Void)? = nil
    ) {
        state.withLock { $0.entries[jobID] = Entry(worker: worker, deadline: deadline, onStop: onStop) }
    }

    /// Registers what stopping the job does, once its engine's task exists; runs it at once
    /// when the keeper stopped the job in between.
    func attach(jobID: String, onStop: @escaping @Sendable () -> Void) {
        let stoppedAlready = state.withLock { state -> Bool in
            guard var entry = state.entries[jobID] else { return false }
            entry.onStop = onStop
            state.entries[jobID] = entry
            return entry.stop != nil
        }
        if stoppedAlready { onStop() }
    }

    /// Why the keeper stopped the job, if it did.
    func stopReason(jobID: String) -> Stop? {
        state.withLock { $0.entries[jobID]?.stop }
    }

    /// Stops every job past its deadline.
    func stopOverdue(now: ContinuousClock.Instant) {
        let stopped: [@Sendable () -> Void] = state.withLock { state in
            var stopped: [@Sendable () -> Void] = []
            for (jobID, entry) in state.entries where entry.stop == nil {
                guard let deadline = entry.deadline, deadline <= now else { continue }
                state.entries[jobID]?.stop = .deadline
                if let onStop = entry.onStop { stopped.append(onStop) }
            }
            return stopped
        }
        for onStop in stopped { onStop() }
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
        let (waiters, onStop) = state.withLock {
            state -> ([CheckedContinuation<Bool, Never>], (@Sendable () -> Void)?) in
            guard var entry = state.entries[jobID] else { return ([], nil) }
            entry.leaseLost = true
            let onStop = entry.stop == nil ? entry.onStop : nil
            if entry.stop == nil { entry.stop = .leaseLost }
            let waiters = Array(entry.waiters.values)
            entry.waiters.removeAll()
            state.entries[jobID] = entry
            return (waiters, onStop)
        }
        onStop?()
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
