import Synchronization

/// A wait that ends at its deadline even when the work it waits for is slow to notice its
/// cancellation (a connection being set up, a stream between reads): the work is cancelled
/// and left to wind down on its own, instead of being awaited as a task group would.
enum Race {
    /// The work's result, or `nil` at `deadline`. Cancelling the caller cancels the work and
    /// throws `CancellationError` at once.
    static func first<Value: Sendable>(
        _ work: @escaping @Sendable @autoclosure () async throws -> Value,
        orNilAt deadline: ContinuousClock.Instant
    ) async throws -> Value? {
        let race = Outcome<Value>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value?, any Error>) in
                race.start(continuation)
                let worker = Task {
                    do { race.finish(.success(try await work())) } catch { race.finish(.failure(error)) }
                }
                let timer = Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    if !Task.isCancelled { race.finish(.success(nil)) }
                }
                race.hold([worker, timer])
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// Who resumes the caller: the first of the work, the timer and a cancellation.
    private final class Outcome<Value: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Value?, any Error>?
            var result: Result<Value?, any Error>?
            var tasks: [Task<Void, Never>] = []
        }
        private let state = Mutex(State())

        func start(_ continuation: CheckedContinuation<Value?, any Error>) {
            let early: Result<Value?, any Error>? = state.withLock { state in
                if let result = state.result { return result }
                state.continuation = continuation
                return nil
            }
            if let early { continuation.resume(with: early) }
        }

        func hold(_ tasks: [Task<Void, Never>]) {
            let finished = state.withLock { state in
                state.tasks = tasks
                return state.result != nil
            }
            if finished { for task in tasks { task.cancel() } }
        }

        func finish(_ result: Result<Value?, any Error>) {
            let (continuation, tasks): (CheckedContinuation<Value?, any Error>?, [Task<Void, Never>]) =
                state.withLock { state in
                    guard state.result == nil else { return (nil, []) }
                    state.result = result
                    defer { state.continuation = nil }
                    return (state.continuation, state.tasks)
                }
            continuation?.resume(with: result)
            for task in tasks { task.cancel() }
        }
    }
}
