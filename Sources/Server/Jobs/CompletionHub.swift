import Synchronization

/// Lets a v1 (sync) request wait for its own job. The request registers interest
/// (``expect(_:)``) before the job is enqueued, so a job that finishes at once is never
/// missed; whoever finishes a job calls ``finish(_:)``.
final class CompletionHub: Sendable {
    private struct Entry {
        var finished = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Starts tracking `jobID`. Pair with ``forget(_:)``.
    func expect(_ jobID: String) {
        state.withLock { state in
            if state.entries[jobID] == nil { state.entries[jobID] = Entry() }
        }
    }

    /// Stops tracking `jobID`.
    func forget(_ jobID: String) {
        let waiters = state.withLock { $0.entries.removeValue(forKey: jobID)?.waiters.values.map { $0 } } ?? []
        for waiter in waiters { waiter.resume() }
    }

    /// Marks the job finished (COMPLETED or FAILED) and wakes its waiters; a no-op for jobs
    /// nobody waits for.
    func finish(_ jobID: String) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard var entry = state.entries[jobID] else { return [] }
            entry.finished = true
            let waiters = Array(entry.waiters.values)
            entry.waiters.removeAll()
            state.entries[jobID] = entry
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns `true` once the job is finished, `false` at `timeout` (or on cancellation).
    func wait(for jobID: String, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForFinish(jobID) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || isFinished(jobID)
        }
    }

    private func isFinished(_ jobID: String) -> Bool {
        state.withLock { $0.entries[jobID]?.finished ?? false }
    }

    private func waitForFinish(_ jobID: String) async -> Bool {
        let id = state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    guard var entry = state.entries[jobID], !entry.finished, !Task.isCancelled else { return true }
                    entry.waiters[id] = continuation
                    state.entries[jobID] = entry
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.entries[jobID]?.waiters.removeValue(forKey: id) }?.resume()
        }
        return isFinished(jobID)
    }
}
