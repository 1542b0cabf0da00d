import Dispatch
import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is being committed wait, and go
/// together into the next one, each in its own savepoint. Under load one commit (one WAL
/// append) serves many jobs instead of one; when idle, a write commits at once.
///
/// Transactions run on one serial queue, off the cooperative pool. A write that throws
/// rolls back its own savepoint only; if the commit itself fails, every write of that
/// batch gets the error.
final class WriteBatcher: Sendable {
    private typealias Operation = @Sendable (Database) -> (@Sendable () -> Void)

    private struct State {
        var pending: [Operation] = []
        var flushScheduled = false
        var flushFailures: [@Sendable (any Error) -> Void] = []
    }

    private let pool: DatabasePool
    private let queue = DispatchQueue(label: "nano-banana.sqlite-writer")
    private let state = Mutex(State())

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs `body` in the next batch transaction and returns its result once committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let resumed = Mutex(false)
            let resumeOnce: @Sendable (Result<T, any Error>) -> Void = { result in
                let first = resumed.withLock { flag in
                    defer { flag = true }
                    return !flag
                }
                if first { continuation.resume(with: result) }
            }
            let operation: Operation = { db in
                do {
                    var value: T?
                    try db.inSavepoint {
                        value = try body(db)
                        return .commit
                    }
                    let result = value!
                    return { resumeOnce(.success(result)) }
                } catch {
                    return { resumeOnce(.failure(error)) }
                }
            }
            let schedule = state.withLock { state in
                state.pending.append(operation)
                state.flushFailures.append { error in resumeOnce(.failure(error)) }
                defer { state.flushScheduled = true }
                return !state.flushScheduled
            }
            if schedule { queue.async { self.flush() } }
        }
    }

    /// Commits everything pending in one transaction, then wakes the writers.
    private func flush() {
        let (batch, failures) = state.withLock { state in
            defer {
                state.pending.removeAll(keepingCapacity: true)
                state.flushFailures.removeAll(keepingCapacity: true)
                state.flushScheduled = false
            }
            return (state.pending, state.flushFailures)
        }
        guard !batch.isEmpty else { return }
        do {
            let completions = try pool.writeWithoutTransaction { db in
                var completions: [@Sendable () -> Void] = []
                completions.reserveCapacity(batch.count)
                try db.inTransaction(.immediate) {
                    for operation in batch { completions.append(operation(db)) }
                    return .commit
                }
                return completions
            }
            for completion in completions { completion() }
        } catch {
            for failure in failures { failure(error) }
        }
    }
}
