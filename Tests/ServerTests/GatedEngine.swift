import Engines
import NanoBananaAPI
import Synchronization

/// An engine that holds every job until the test opens its gate, then returns a fixed
/// image: lets tests observe QUEUED and PROCESSING without timing. Like every engine, it
/// honours cancellation: a job cancelled at the gate throws `CancellationError`.
final class GatedEngine: ImageEngine {
    let name = "gated"
    private struct Gate {
        var open = false
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(Gate())
    private let started = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let startedCount = Mutex(0)
    private let cancelledCount = Mutex(0)

    /// Jobs that were cancelled at the gate.
    var cancelled: Int { cancelledCount.withLock { $0 } }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once at least one job has entered the engine.
    func waitUntilStarted() async {
        await withCheckedContinuation { continuation in
            let now = startedCount.withLock { $0 > 0 }
            if now { continuation.resume() } else { started.withLock { $0.append(continuation) } }
        }
    }

    func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        startedCount.withLock { $0 += 1 }
        for waiter in started.withLock({ list in
            defer { list.removeAll() }; return list
        }) { waiter.resume() }
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let resumeNow: Bool? = state.withLock { state in
                        if state.open { return true }
                        if Task.isCancelled { return false }
                        state.waiters[id] = continuation
                        return nil
                    }
                    switch resumeNow {
                    case true?: continuation.resume()
                    case false?: continuation.resume(throwing: CancellationError())
                    case nil: break
                    }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
            }
        } catch {
            cancelledCount.withLock { $0 += 1 }
            throw error
        }
        return GeneratedImage(bytes: [0xFF, 0xD8, 0xFF, 0xD9], format: .jpg, width: 1, height: 1, text: nil)
    }
}

/// An engine that always fails the same way.
struct FailingEngine: ImageEngine {
    let name = "failing"
    let failure: EngineFailure

    func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        throw failure
    }
}
