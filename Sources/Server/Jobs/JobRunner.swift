import Engines
import Foundation
import Logging
import NanoBananaAPI
import Store

/// Runs one claimed job to its end, with swift-jobs' `JobQueueProcessor` rules: a
/// cancellation is never a failure (the job goes back to the queue), the job timeout and a
/// lost lease cancel the engine, and the final write is shielded from the worker's
/// cancellation. Then the outcome with its image goes into the store.
///
/// Engines must honour cancellation (see ``ImageEngine``; all of ours do): the worker waits
/// for the engine's task to return after cancelling it, so an engine that ignored
/// cancellation would hold its worker (not the job, whose outcome is decided already).
struct JobRunner: Sendable {
    let jobs: any JobStore
    let models: ModelCatalog
    let hub: CompletionHub
    let running: RunningJobs
    let jobTimeout: TimeInterval
    let metrics: JobInstruments
    /// Whether a failed job's key pays, so was refunded (for the credit metrics).
    let keys: any APIKeyAdministration
    let logger: Logger

    /// How a job's run ended.
    enum Ending: Sendable {
        /// The engine returned an image (and the seconds it took) or threw.
        case finished(Result<(GeneratedImage, Double), any Error>)
        /// The job timeout came first.
        case deadline
        /// The keeper could not renew the lease: another worker may own the job now.
        case leaseLost
    }

    /// Runs `job`, which `worker` holds. Cancellation of the calling task (shutdown past
    /// the drain timeout) hands the job back to the queue: it is never FAILED for it.
    /// Returns the worker's next job when the store claimed one in the same transaction as
    /// this one's completion.
    @discardableResult
    func run(_ claimed: ClaimedJob, worker: String, claimNextFor lease: TimeInterval? = nil) async -> ClaimedJob? {
        let job = claimed.record
        // Every line about the job carries its id, its key, its model, its request's id.
        var logger = self.logger.about(job)
        logger[metadataKey: "worker"] = .string(worker)
        let engine = models.engine(for: job.model)
        if let engine { logger[metadataKey: "engine"] = .string(engine.name) }
        logger.log(.started, ["attempt": .stringConvertible(job.state.attempts)])
        metrics.claimed(job)
        let request: GenerationRequest
        do {
            let parameters = try JSONDecoder().decode(NanoBanana2Parameters.self, from: Data(claimed.parameters.utf8))
            request = GenerationRequest(requestID: job.id, model: job.model, parameters: parameters)
        } catch {
            logger.error("Stored parameters are unreadable", metadata: ["error": "\(error)"])
            await finish(
                job, worker: worker, failure: "Internal error: the stored request could not be read.", code: .internal,
                logger: logger)
            return nil
        }
        guard let engine else {
            await finish(
                job, worker: worker, failure: "Model '\(job.model)' is no longer served by this server.",
                code: .invalidRequest, logger: logger)
            return nil
        }

        switch await generate(request, engine: engine, jobID: job.id, worker: worker) {
        case .leaseLost:
            logger.log(.leaseLost, level: .warning)
        case .deadline:
            await finish(
                job, worker: worker,
                failure: "The request timed out: the engine did not finish within \(Int(jobTimeout)) seconds.",
                code: .timedOut, logger: logger)
        case .finished(.failure(is CancellationError)):
            // First: a cancelled job is unfinished, never failed.
            await handBack(job, worker: worker, logger: logger)
        case .finished(.success(let (image, seconds))):
            return await complete(
                job, worker: worker, engine: engine.name, image: image, seconds: seconds, next: lease, logger: logger)
        case .finished(.failure(let failure as EngineFailure)):
            await finish(job, worker: worker, failure: failure.description, code: failure.failureCode, logger: logger)
        case .finished(.failure(let error)):
            logger.error("Engine error", metadata: ["error": "\(error)"])
            await finish(
                job, worker: worker, failure: "Internal error while generating the image (request \(job.id)).",
                code: .internal, logger: logger)
        }
        return nil
    }

    /// The engine in one high-priority task, which the pool's keeper cancels at the job's
    /// deadline or when its lease is lost (``RunningJobs``), and which the worker's own
    /// cancellation reaches. The worker waits for the engine to end: engines honour
    /// cancellation (``ImageEngine``).
    ///
    /// Not a task group with a timer and a lease watcher beside the engine, as swift-jobs
    /// does it: measured here, every extra task per job is a trip through the executor,
    /// which a storm of status polls makes long — the null-engine flow fell from about
    /// 700 to 40 jobs/s with the group. One task per job and one keeper loop for all of
    /// them keep the worker's path as short as before.
    private func generate(
        _ request: GenerationRequest, engine: any ImageEngine, jobID: String, worker: String
    )
        async -> Ending
    {
        // Tracked before the engine starts, so a lost lease or a deadline is never missed.
        running.insert(jobID: jobID, worker: worker, deadline: .now + .seconds(jobTimeout))
        metrics.inFlight.increment()
        defer {
            running.remove(jobID: jobID)
            metrics.inFlight.decrement()
        }
        let engineCall = Task(priority: .high) { () -> Result<(GeneratedImage, Double), any Error> in
            let start = ContinuousClock.now
            do {
                let image = try await engine.generate(request)
                return .success((image, (ContinuousClock.now - start).seconds))
            } catch {
                // Whatever an engine throws once its task is cancelled is the cancellation.
                return .failure(Task.isCancelled ? CancellationError() : error)
            }
        }
        running.attach(jobID: jobID) { engineCall.cancel() }
        let result = await withTaskCancellationHandler {
            await engineCall.value
        } onCancel: {
            engineCall.cancel()
        }
        switch running.stopReason(jobID: jobID) {
        case .deadline: return .deadline
        case .leaseLost: return .leaseLost
        case nil: return .finished(result)
        }
    }

    // MARK: - Recording the outcome

    private func complete(
        _ job: JobRecord, worker: String, engine: String, image: GeneratedImage, seconds: Double,
        next lease: TimeInterval?, logger: Logger
    ) async -> ClaimedJob? {
        let output = JobOutput(
            blobKey: "\(job.id).\(image.format.fileExtension)", format: image.format, width: image.width,
            height: image.height, text: image.text, engine: engine, inferenceTime: seconds, usage: image.usage)
        let jobs = self.jobs
        var next: ClaimedJob?
        do {
            let completed: Bool
            if let lease {
                (completed, next) = try await persisting {
                    try await jobs.complete(
                        jobID: job.id, worker: worker, output: output, image: image.bytes, claimingNextFor: lease)
                }
            } else {
                completed = try await persisting {
                    try await jobs.complete(jobID: job.id, worker: worker, output: output, image: image.bytes)
                }
            }
            if completed {
                metrics.completed(job, seconds: seconds)
                logger.log(.completed, ["inference_ms": .stringConvertible(Int((seconds * 1000).rounded()))])
            } else {
                logger.warning("Finished a job whose lease had been lost; another worker owns it")
            }
        } catch {
            logger.error("Could not record a completed job", metadata: ["error": "\(error)"])
        }
        hub.finish(job.id, image: image.bytes)
        return next
    }

    private func finish(_ job: JobRecord, worker: String, failure: String, code: FailureCode, logger: Logger) async {
        let jobs = self.jobs
        // Only a metered key's job reserved credits, which the failure refunds; asked before
        // the failure is announced, so a scrape after the client's answer counts it.
        let metered = job.cost > 0 ? (try? await keys.balance(keyID: job.keyID)) != nil : false
        do {
            let failed = try await persisting {
                try await jobs.fail(jobID: job.id, worker: worker, error: failure, code: code)
            }
            if failed {
                metrics.failed(job, code: code, metered: metered)
                var failedJob = job
                failedJob.state.failureCode = code
                failedJob.state.error = failure
                logger.log(.failed, level: code.describesServer ? .warning : .info, failedJob.failureLogMetadata)
            }
        } catch {
            logger.error("Could not record a failed job", metadata: ["error": "\(error)"])
        }
        hub.finish(job.id)
    }

    /// Hands a job the worker holds back to the queue, unfinished (shutdown). If the store
    /// cannot be reached the lease runs out instead, with the same effect, later.
    func handBack(_ job: JobRecord, worker: String, logger: Logger? = nil) async {
        let logger = logger ?? self.logger.about(job)
        let jobs = self.jobs
        do {
            if try await persisting({ try await jobs.release(jobID: job.id, worker: worker) }) {
                logger.log(.released)
            }
        } catch {
            logger.warning(
                "Could not hand a job back; it returns to the queue when its lease runs out",
                metadata: ["error": "\(error)"])
        }
    }

    /// Runs a store write that records an outcome, retrying while the store is unreachable
    /// (an outage of a minute at most) unless the worker is being cancelled, so that a
    /// finished image is not thrown away and run again. Meanwhile the lease may run out;
    /// the store then refuses the write, and the job's next worker records it instead.
    ///
    /// Each try runs in an unstructured task whose value is awaited at once: it inherits
    /// none of the worker task's cancellation, so a shutdown past the drain timeout cannot
    /// abandon the write half-way (a completed image lost, a hand-back not made), and it
    /// still ends before this call returns, as swift-jobs shields its final write.
    private func persisting<T: Sendable>(_ write: @escaping @Sendable () async throws -> T) async throws -> T {
        var backoff = Backoff()
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                // A new task is a trip through the executor, which a storm of status polls
                // makes long (see `generate`): only a cancelled worker needs the shield.
                return try await Task.isCancelled ? Task { try await write() }.value : write()
            } catch let error as StoreUnavailable {
                guard ContinuousClock.now < deadline, !Task.isCancelled else { throw error }
                if backoff.failures == 0 {
                    logger.warning("Could not record a job's outcome; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension EngineFailure {
    /// How the store records this failure.
    var failureCode: FailureCode {
        switch self {
        case .contentBlocked: .contentBlocked
        case .invalidReference, .upstreamRejected: .invalidRequest
        case .upstreamUnavailable: .upstreamUnavailable
        case .upstreamUnauthorized, .upstreamInvalidResponse: .upstreamError
        }
    }
}
