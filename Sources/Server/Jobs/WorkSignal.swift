import Synchronization

/// Wakes idle workers when jobs arrive, without losing a wake-up that races with a worker
/// going idle: a worker notes the ``generation`` before it looks for work and waits only
/// if nothing was signalled since.
///
/// Shutdown comes in two steps: ``beginDrain(until:)`` as soon as the node hears of it
/// (no job is claimed after that, idle workers sleep through signals), then ``stop()``
/// when the pool itself shuts down.
///
/// Cancellation: like the other waits of the worker pool, a task cancelled before or while
/// it waits returns at once and leaves no waiter behind.
final class WorkSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        var stopped = false
        var drainDeadline: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Changes every time ``signal()`` or ``wakeAll()`` is called.
    var generation: UInt64 { state.withLock { $0.generation } }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Whether workers may claim jobs: not once the node is draining or stopped.
    var claimsAllowed: Bool { state.withLock { !$0.stopped && $0.drainDeadline == nil } }

    /// When running jobs must have finished, once the node is shutting down.
    var drainDeadline: ContinuousClock.Instant? { state.withLock { $0.drainDeadline } }

    /// The node is shutting down: no more claims; running jobs have until `deadline`.
    /// Only the first call counts.
    func beginDrain(until deadline: ContinuousClock.Instant) {
        state.withLock { state in
            if state.drainDeadline == nil { state.drainDeadline = deadline }
        }
    }

    /// How many workers wait in ``wait(after:)``, for tests' hand-offs.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Wakes the longest-waiting idle worker (new work exists); nobody while draining.
    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.generation &+= 1
            guard state.drainDeadline == nil, let id = state.waiters.keys.min() else { return nil }
            return state.waiters.removeValue(forKey: id)
        }
        waiter?.resume()
    }

    /// Wakes every idle worker, to look again for work nobody signalled (expired leases).
    func wakeAll() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.generation &+= 1
            guard state.drainDeadline == nil else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Wakes every waiter and makes later waits return at once (shutdown).
    func stop() {
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when a signal comes after `generation` (at once if one already has; while
    /// draining, signals do not count), on stop, or on cancellation.
    func wait(after generation: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    let signalled = state.generation != generation && state.drainDeadline == nil
                    if state.stopped || signalled || Task.isCancelled { return true }
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
