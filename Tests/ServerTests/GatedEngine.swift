import Engines
import NanoBananaAPI
import Synchronization

/// An engine that holds every job until the test opens its gate, then returns a fixed
/// image: lets tests observe QUEUED and PROCESSING without timing.
final class GatedEngine: ImageEngine {
    let name = "gated"
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private let started = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let startedCount = Mutex(0)

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
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
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
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
