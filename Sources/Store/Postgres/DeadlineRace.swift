import Synchronization

/// Decides, once, how an operation with a deadline ends for its caller: with the
/// operation's result, with the deadline's error, or with the caller's cancellation,
/// whichever comes first; the caller's continuation is resumed exactly once. An operation
/// still waiting to start when the deadline or the cancellation comes never starts
/// (``begin()`` says no), and its task is cancelled.
final class DeadlineRace<T: Sendable>: Sendable {
    enum Phase: Sendable, Equatable {
        /// Waiting to start (for a database connection).
        case waiting
        case running
        /// The deadline or the caller's cancellation came first.
        case abandoned
        case finished
    }

    private struct State {
        var phase = Phase.waiting
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        /// The caller was cancelled before its continuation arrived.
        var cancelledEarly = false
    }

    private let state = Mutex(State())

    var phase: Phase { state.withLock { $0.phase } }

    /// Whether a caller waits on the race (its continuation has been handed over).
    var hasCaller: Bool { state.withLock { $0.continuation != nil } }

    /// Hands over the caller's continuation; resumes it at once when the caller was
    /// cancelled already.
    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let cancelled = state.withLock { state in
            guard !state.cancelledEarly else {
                state.phase = .abandoned
                return true
            }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
    }

    /// The task doing the operation, cancelled if the race is abandoned.
    func setWork(_ work: Task<Void, Never>) {
        let abandoned = state.withLock { state in
            state.work = work
            return state.phase == .abandoned
        }
        if abandoned { work.cancel() }
    }

    /// The operation is ready to start: it may unless the race was abandoned.
    func begin() -> Bool {
        state.withLock { state in
            guard state.phase == .waiting else { return false }
            state.phase = .running
            return true
        }
    }

    /// The deadline: fails the caller with `error` and cancels the work, if the operation
    /// is still waiting (or, with `running`, has started but not finished).
    /// - Returns: whether this call ended the race.
    @discardableResult
    func abandon(_ error: any Error, running: Bool = false) -> Bool {
        end(with: error) { $0 == .waiting || (running && $0 == .running) }
    }

    /// The caller was cancelled: it gets a `CancellationError` at once, and the work is
    /// cancelled, whatever its phase.
    func cancel() {
        let ended = end(with: CancellationError()) { $0 == .waiting || $0 == .running }
        if !ended {
            state.withLock { state in
                if state.continuation == nil && state.phase == .waiting { state.cancelledEarly = true }
            }
        }
    }

    /// The operation's outcome, for the caller unless the race was abandoned.
    func finish(_ result: Result<T, any Error>) {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard state.phase == .waiting || state.phase == .running else { return nil }
            state.phase = .finished
            defer {
                state.continuation = nil
                state.work = nil
            }
            return state.continuation
        }
        continuation?.resume(with: result)
    }

    private func end(with error: any Error, when allowed: (Phase) -> Bool) -> Bool {
        let (continuation, work) = state.withLock {
            state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            guard allowed(state.phase), let continuation = state.continuation else { return (nil, nil) }
            state.phase = .abandoned
            state.continuation = nil
            return (continuation, state.work)
        }
        continuation?.resume(throwing: error)
        work?.cancel()
        return continuation != nil
    }
}
