import Synchronization

/// A one-shot signal: closed until ``open()`` (or ``fail(_:)``), then open for good. Any
/// number of tasks ``wait()`` for it; each is resumed exactly once, when it opens or fails,
/// or with a `CancellationError` when the waiting task is cancelled first.
///
/// A node opens one when its store is prepared (its services wait for it before they
/// start), and a PostgreSQL database closes its pool with one.
public final class Latch: Sendable {
    private enum State {
        case closed(waiters: [UInt64: CheckedContinuation<Void, any Error>], nextID: UInt64)
        case open
        case failed(any Error)
    }

    private let state = Mutex(State.closed(waiters: [:], nextID: 0))

    public init() {}

    /// Whether it has opened (not failed).
    public var isOpen: Bool {
        state.withLock { if case .open = $0 { true } else { false } }
    }

    /// How many tasks wait now.
    var waiting: Int {
        state.withLock { if case .closed(let waiters, _) = $0 { waiters.count } else { 0 } }
    }

    /// Opens it and wakes every waiter; later calls (and a later ``fail(_:)``) change nothing.
    public func open() {
        settle(.open)
    }

    /// Fails it: every waiter, now and later, gets `error`.
    public func fail(_ error: any Error) {
        settle(.failed(error))
    }

    /// Returns once it is open; throws its failure, or `CancellationError` when the task is
    /// cancelled while waiting.
    public func wait() async throws {
        let id: UInt64? = state.withLock { state in
            guard case .closed(let waiters, let next) = state else { return nil }
            state = .closed(waiters: waiters, nextID: next &+ 1)
            return next
        }
        guard let id else { return try settledOutcome() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    switch state {
                    case .open: return .success(())
                    case .failed(let error): return .failure(error)
                    case .closed(var waiters, let next):
                        if Task.isCancelled { return .failure(CancellationError()) }
                        waiters[id] = continuation
                        state = .closed(waiters: waiters, nextID: next)
                        return nil
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>? = state.withLock { state in
                guard case .closed(var waiters, let next) = state, let continuation = waiters.removeValue(forKey: id)
                else { return nil }
                state = .closed(waiters: waiters, nextID: next)
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private func settledOutcome() throws {
        let failure: (any Error)? = state.withLock { state in
            if case .failed(let error) = state { return error }
            return nil
        }
        if let failure { throw failure }
    }

    private func settle(_ outcome: State) {
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            guard case .closed(let waiters, _) = state else { return [] }
            state = outcome
            return Array(waiters.values)
        }
        for waiter in waiters {
            if case .failed(let error) = outcome { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }
}
