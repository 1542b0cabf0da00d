import Engines
import Foundation
import Logging
import NanoBananaAPI
import Store
import Testing

@testable import Server

/// An engine that waits until its task is cancelled and then returns the image anyway, as
/// an engine may when the work is already done: its job must still be recorded COMPLETED,
/// although the worker's task is cancelled by then.
final class FinishesWhenCancelledEngine: ImageEngine {
    let name = "finishes-when-cancelled"
    private let started = Locked<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    func waitUntilStarted() async {
        await withCheckedContinuation { continuation in
            let now = started.withLock { state in
                if state.count == 0 { state.waiters.append(continuation) }
                return state.count > 0
            }
            if now { continuation.resume() }
        }
    }

    func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        let waiters = started.withLock { state in
            state.count += 1
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        // Returns only once cancelled: iterating a stream nobody feeds ends on cancellation.
        let (never, feed) = AsyncStream<Void>.makeStream()
        for await _ in never {}
        feed.finish()
        return GeneratedImage(bytes: [0xFF, 0xD8, 0xFF, 0xD9], format: .jpg, width: 1, height: 1, text: nil)
    }
}

@Suite("JobRunner: outcomes and cancellation", .timeLimit(.minutes(5)))
struct JobRunnerTests {
    /// A server without workers (the test is the worker), `jobs` jobs submitted and the
    /// first claimed, and a runner for it whose store refuses writes from cancelled tasks.
    func withClaimedJob(
        engine: any ImageEngine, jobTimeout: TimeInterval = 600, jobs: Int = 1,
        _ body: @Sendable (JobRunner, ClaimedJob, TestServer) async throws -> Void
    ) async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }, engine: engine) { server, client in
            for _ in 0..<jobs {
                _ = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            }
            let claimed = try #require(try await server.components.jobs.claim(worker: "w", lease: 600))
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let runner = JobRunner(
                jobs: CancellationSensitiveStore(base: server.components.jobs), models: server.components.models,
                hub: server.components.hub,
                running: RunningJobs(), jobTimeout: jobTimeout, metrics: server.components.jobInstruments,
                keys: server.components.keys, logger: logger)
            try await body(runner, claimed, server)
        }
    }

    func state(_ id: String, _ server: TestServer) async throws -> JobState? {
        try await server.components.jobs.job(id: id)?.state
    }

    @Test("cancelling the worker (shutdown past the drain) hands the job back to the queue, never FAILED")
    func cancelledIsHandedBack() async throws {
        let engine = GatedEngine()
        try await withClaimedJob(engine: engine) { runner, claimed, server in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await runner.run(claimed, worker: "w") }
                await engine.waitUntilStarted()
                group.cancelAll()
                await group.waitForAll()
            }
            #expect(engine.cancelled == 1)
            let state = try await state(claimed.id, server)
            #expect(state?.status == .queued)
            #expect(state?.error == nil)
            // Handed back, it is claimed again.
            #expect(try await server.components.jobs.claim(worker: "w2", lease: 600)?.id == claimed.id)
        }
    }

    @Test("an image returned after the worker's cancellation is still recorded: the write is not cancelled")
    func writeIsShielded() async throws {
        let engine = FinishesWhenCancelledEngine()
        try await withClaimedJob(engine: engine) { runner, claimed, server in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await runner.run(claimed, worker: "w") }
                await engine.waitUntilStarted()
                group.cancelAll()
                await group.waitForAll()
            }
            let status = try await state(claimed.id, server)?.status
            #expect(status == .completed)
        }
    }

    @Test("past the job timeout the keeper cancels the engine and the job FAILS as timed out")
    func deadline() async throws {
        let engine = GatedEngine()
        try await withClaimedJob(engine: engine, jobTimeout: 60) { runner, claimed, server in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await runner.run(claimed, worker: "w") }
                await engine.waitUntilStarted()
                // The pool's keeper, a minute later.
                runner.running.stopOverdue(now: .now + .seconds(61))
                await group.waitForAll()
            }
            #expect(engine.cancelled == 1)
            let state = try await state(claimed.id, server)
            #expect(state?.status == .failed)
            #expect(state?.failureCode == .timedOut)
            #expect(state?.error?.hasPrefix("The request timed out") == true)
        }
    }

    @Test("a lost lease cancels the engine and leaves the job as it is, to its new owner")
    func leaseLost() async throws {
        let engine = GatedEngine()
        try await withClaimedJob(engine: engine) { runner, claimed, server in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await runner.run(claimed, worker: "w") }
                await engine.waitUntilStarted()
                runner.running.loseLease(jobID: claimed.id)
                await group.waitForAll()
            }
            #expect(engine.cancelled == 1)
            let status = try await state(claimed.id, server)?.status
            #expect(status == .processing)
            #expect(runner.running.holders.isEmpty)
        }
    }

    @Test("an engine failure FAILS the job with its code")
    func engineFailure() async throws {
        let engine = FailingEngine(failure: .contentBlocked("no."))
        try await withClaimedJob(engine: engine) { runner, claimed, server in
            await runner.run(claimed, worker: "w")
            let state = try await state(claimed.id, server)
            #expect(state?.status == .failed)
            #expect(state?.failureCode == .contentBlocked)
            #expect(state?.error == EngineFailure.contentBlocked("no.").description)
        }
    }

    @Test("success completes the job and claims the worker's next one")
    func successClaimsNext() async throws {
        let engine = GatedEngine()
        engine.open()
        try await withClaimedJob(engine: engine, jobs: 2) { runner, claimed, server in
            let next = try #require(await runner.run(claimed, worker: "w", claimNextFor: 600))
            #expect(try await state(claimed.id, server)?.status == .completed)
            #expect(next.id != claimed.id)
            let state = try await state(next.id, server)
            #expect(state?.status == .processing)
            #expect(state?.workerID == "w")
        }
    }
}
