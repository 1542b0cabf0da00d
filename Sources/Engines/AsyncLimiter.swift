import Synchronization

/// At most `limit` operations at once; the rest wait in arrival order. Bounds the requests
/// an engine has in flight upstream, separately from the worker pool.
///
/// Cancellation: a task cancelled before or while it waits for a slot throws
/// `CancellationError` at once, takes no slot and leaves no waiter behind; a slot freed at
/// the same moment goes to the next waiter.
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>
    let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State(available: self.limit))
    }

    /// Runs `body` once a slot is free, and frees the slot when it returns or throws.
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async throws {
        let id = state.withLock { state in
            state.nextID &+= 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Checked under the lock: `onCancel` runs before this when the task was
                // cancelled already, and finds no waiter to remove.
                let granted = state.withLock { state -> Bool? in
                    if Task.isCancelled { return false }
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                switch granted {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// How many tasks wait for a slot, for tests' hand-offs.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// How many slots are taken, for tests' hand-offs.
    var inUse: Int { limit - state.withLock { $0.available } }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}
