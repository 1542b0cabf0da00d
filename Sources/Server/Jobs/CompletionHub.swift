import ServiceLifecycle
import Synchronization

/// Lets a v1 (sync) request wait for its own job. The request registers interest
/// (``expect(_:)``) before the job is enqueued, so a job that finishes at once is never
/// missed; whoever finishes a job calls ``finish(_:)``. Deadlines are enforced by one
/// ticker (``run()``), not a timer per waiting request.
///
/// Cancellation: like the other waits of the worker pool, a task cancelled before or while
/// it waits returns at once (here `false`, unless the job is already finished) and leaves
/// no waiter behind.
final class CompletionHub: Service, Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<Bool, Never>
        let deadline: ContinuousClock.Instant
    }

    private struct Entry {
        /// Requests that ``expect(_:)``ed the job and have not ``forget(_:)``ten it yet: a
        /// replayed v1 request (an `Idempotency-Key`) waits for the same job as its original.
        var interest = 0
        var finished = false
        /// The image of a COMPLETED job, handed over so the v1 route need not read it back.
        var image: [UInt8]?
        var waiters: [UInt64: Waiter] = [:]
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextWaiterID: UInt64 = 0
        var drainDeadline: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    /// How often deadlines are checked: the precision of the v1 timeout.
    let tick: Duration

    init(tick: Duration = .milliseconds(50)) {
        self.tick = tick
    }

    /// Starts tracking `jobID`, for one more request. Pair each with ``forget(_:)``.
    func expect(_ jobID: String) {
        state.withLock { $0.entries[jobID, default: Entry()].interest += 1 }
    }

    /// When the node stops waiting for jobs, once it is shutting down.
    var drainDeadline: ContinuousClock.Instant? { state.withLock { $0.drainDeadline } }

    /// The node is shutting down: every waiter returns `false` now, to look at its job
    /// again, and no later wait lasts past `deadline`. Only the first call counts.
    func beginDrain(until deadline: ContinuousClock.Instant) {
        let waiters: [Waiter] = state.withLock { state in
            guard state.drainDeadline == nil else { return [] }
            state.drainDeadline = deadline
            var waiters: [Waiter] = []
            for (jobID, entry) in state.entries where !entry.waiters.isEmpty {
                waiters += entry.waiters.values
                state.entries[jobID]?.waiters.removeAll()
            }
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: false) }
    }

    /// One request stops tracking `jobID`; once none tracks it, it is forgotten and its
    /// waiters return `false`.
    func forget(_ jobID: String) {
        let waiters: [Waiter] = state.withLock { state in
            guard var entry = state.entries[jobID] else { return [] }
            entry.interest -= 1
            guard entry.interest <= 0 else {
                state.entries[jobID] = entry
                return []
            }
            state.entries.removeValue(forKey: jobID)
            return Array(entry.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: false) }
    }

    /// Marks the job finished (COMPLETED with `image`, or FAILED) and wakes its waiters; a
    /// no-op for jobs nobody waits for.
    func finish(_ jobID: String, image: [UInt8]? = nil) {
        let waiters: [Waiter] = state.withLock { state in
            guard var entry = state.entries[jobID] else { return [] }
            entry.finished = true
            // A cluster announcement (no image) may follow this node's own finish.
            if let image { entry.image = image }
            let waiters = Array(entry.waiters.values)
            entry.waiters.removeAll()
            state.entries[jobID] = entry
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: true) }
    }

    /// Returns `true` once the expected job is finished (at once if it already is), `false`
    /// at `timeout` (or the drain deadline, if sooner), when the job is forgotten or was
    /// never expected, when the drain begins, or on cancellation.
    func wait(for jobID: String, timeout: Duration) async -> Bool {
        let (id, drainDeadline) = state.withLock { state in
            state.nextWaiterID &+= 1
            return (state.nextWaiterID, state.drainDeadline)
        }
        let deadline = min(ContinuousClock.now + timeout, drainDeadline ?? .now + timeout)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { state in
                    guard var entry = state.entries[jobID] else { return false }
                    if entry.finished { return true }
                    if Task.isCancelled { return false }
                    entry.waiters[id] = Waiter(continuation: continuation, deadline: deadline)
                    state.entries[jobID] = entry
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            state.withLock { $0.entries[jobID]?.waiters.removeValue(forKey: id) }?.continuation.resume(returning: false)
        }
    }

    /// How many requests wait in ``wait(for:timeout:)``, for tests' hand-offs.
    var waiterCount: Int {
        state.withLock { $0.entries.values.reduce(0) { $0 + $1.waiters.count } }
    }

    /// The image handed over by ``finish(_:image:)``, while the job is tracked.
    func image(of jobID: String) -> [UInt8]? {
        state.withLock { $0.entries[jobID]?.image }
    }

    /// Times out the waiters whose deadline has passed.
    func expireWaiters(now: ContinuousClock.Instant = .now) {
        let expired: [Waiter] = state.withLock { state in
            var expired: [Waiter] = []
            for (jobID, entry) in state.entries where !entry.waiters.isEmpty {
                var entry = entry
                for (id, waiter) in entry.waiters where waiter.deadline <= now {
                    expired.append(waiter)
                    entry.waiters.removeValue(forKey: id)
                }
                state.entries[jobID] = entry
            }
            return expired
        }
        for waiter in expired { waiter.continuation.resume(returning: false) }
    }

    /// The deadline ticker, until graceful shutdown or cancellation.
    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.tick) }
            expireWaiters()
        }
    }
}
