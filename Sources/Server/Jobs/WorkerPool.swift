import Foundation
import Logging
import ServiceLifecycle
import Store

/// A fixed number of workers that claim jobs from the store and run them. Once the node
/// begins to drain (``WorkSignal/beginDrain(until:)``, at SIGTERM) no job is claimed; on its
/// own graceful shutdown the pool gives running jobs until the drain deadline (or the drain
/// timeout, when nothing began the drain), then cancels them, which hands them back to the
/// queue for the next start.
struct WorkerPool: Service {
    let jobs: any JobStore
    let runner: JobRunner
    let running: RunningJobs
    let signal: WorkSignal
    let concurrency: Int
    let leaseDuration: TimeInterval
    let drainTimeout: TimeInterval
    /// How often idle workers look for work nobody signalled (expired leases).
    let idlePoll: Duration
    let logger: Logger

    private enum Finished { case worker, drainTimeout, timerCancelled, keeper }

    func run() async throws {
        // A pool of none (an API-only node has no pool at all) waits out the process: a
        // service that returned at once would stop the whole group.
        guard concurrency > 0 else { return try await gracefulShutdown() }
        let processID = UUID().uuidString.prefix(8).lowercased()
        logger.info("Worker pool started", metadata: ["workers": "\(concurrency)"])
        let (stopped, stop) = AsyncStream<Void>.makeStream()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Finished.self) { group in
                // Workers outrank request handlers: under a storm of status polls, finishing
                // the work is what makes the polls end.
                for index in 0..<concurrency {
                    group.addTask(priority: .high) {
                        await work(as: "\(processID)-\(index)")
                        return .worker
                    }
                }
                group.addTask(priority: .high) {
                    await keepLeases()
                    return .keeper
                }
                group.addTask {
                    for await _ in stopped {}
                    let deadline = signal.drainDeadline ?? .now + .seconds(drainTimeout)
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return Task.isCancelled ? .timerCancelled : .drainTimeout
                }
                var running = concurrency
                while running > 0, let finished = await group.next() {
                    switch finished {
                    case .worker:
                        running -= 1
                    case .drainTimeout:
                        logger.warning("Drain timeout reached; handing running jobs back to the queue")
                        group.cancelAll()
                    case .timerCancelled, .keeper:
                        break
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            signal.stop()
            stop.finish()
        }
        logger.info("Worker pool stopped")
    }

    private func work(as worker: String) async {
        var backoff = Backoff()
        var waited = false
        while !signal.isStopped && !Task.isCancelled {
            let generation = signal.generation
            do {
                // Draining: nothing new starts here; the pool's shutdown stops the loop.
                guard signal.claimsAllowed else {
                    await signal.wait(after: generation)
                    continue
                }
                var next = try await jobs.claim(worker: worker, lease: leaseDuration)
                if backoff.failures > 0 {
                    logger.info("The store is reachable again; claiming jobs", metadata: ["worker": "\(worker)"])
                    backoff = Backoff()
                }
                if next == nil {
                    await signal.wait(after: generation)
                    waited = true
                    continue
                }
                // Woken for one job: another may be waiting behind it for another idle worker.
                if waited { signal.signal() }
                waited = false
                // A busy worker completes one job and claims the next in one transaction.
                while let job = next, !Task.isCancelled {
                    next = await runner.run(
                        job, worker: worker, claimNextFor: signal.claimsAllowed ? leaseDuration : nil)
                }
                if let unstarted = next {
                    await runner.handBack(unstarted.record, worker: worker)
                }
            } catch {
                if backoff.failures == 0 {
                    logger.error(
                        "Could not claim a job; backing off until the store answers",
                        metadata: ["worker": "\(worker)", "error": "\(error)"])
                }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// The one loop that watches every running job: stops those past their deadline,
    /// renews the leases of the rest, tells the runner of a job whose lease is lost (both
    /// cancel its engine), and now and then wakes idle workers to look for jobs whose lease
    /// ran out elsewhere. It runs until the pool cancels it once every worker has
    /// stopped: the leases of jobs finishing during the drain are kept too.
    private func keepLeases() async {
        let tick = Duration.milliseconds(250)
        let renewEvery = Duration.seconds(leaseDuration / 3)
        var lastRenewal = ContinuousClock.now
        var lastWake = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            running.stopOverdue(now: now)
            if now - lastRenewal >= renewEvery {
                lastRenewal = now
                for holder in running.holders {
                    let kept =
                        (try? await jobs.renewLease(jobID: holder.jobID, worker: holder.worker, lease: leaseDuration))
                    if kept == false { running.loseLease(jobID: holder.jobID) }
                }
            }
            if now - lastWake >= idlePoll {
                // One idle worker looks (for expired leases, or a missed wake-up); if it finds
                // a job, it wakes the next.
                lastWake = now
                signal.signal()
            }
        }
    }
}

/// Exponential backoff with jitter: 0.1 s doubling to 5 s.
struct Backoff {
    private(set) var failures = 0

    mutating func next() -> Duration {
        failures += 1
        let ceiling = min(5.0, 0.1 * pow(2.0, Double(min(failures, 10))))
        return .milliseconds(Int(Double.random(in: ceiling / 2...ceiling) * 1000))
    }
}
