import Synchronization

/// Wakes idle workers when jobs arrive, without losing a wake-up that races with a worker
/// going idle: a worker notes the ``generation`` before it looks for work and waits only
/// if nothing was signalled since.
///
/// Cancellation: like the other waits of the worker pool, a task cancelled before or while
/// it waits returns at once and leaves no waiter behind.
final class WorkSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        var stopped = false
    }

    private let state = Mutex(State())

    /// Changes every time ``signal()`` or ``wakeAll()`` is called.
    var generation: UInt64 { state.withLock { $0.generation } }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// How many workers wait in ``wait(after:)``, for tests' hand-offs.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Wakes the longest-waiting idle worker (new work exists).
    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.generation &+= 1
            guard let id = state.waiters.keys.min() else { return nil }
            return state.waiters.removeValue(forKey: id)
        }
        waiter?.resume()
    }

    /// Wakes every idle worker, to look again for work nobody signalled (expired leases).
    func wakeAll() {
        let waiters = state.withLock { state in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Wakes every waiter and makes later waits return at once (shutdown).
    func stop() {
        state.withLock { $0.stopped = true }
        wakeAll()
    }

    /// Returns when a signal comes after `generation` (at once if one already has), on
    /// stop, or on cancellation.
    func wait(after generation: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.stopped || state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
