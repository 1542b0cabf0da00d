import Engines
import Foundation
import Logging
import NanoBananaAPI
import Store
import Synchronization

/// Runs one claimed job to its end: the engine in a task the pool's keeper can cancel at
/// the deadline or when the lease is lost, then the outcome with its image into the store.
struct JobRunner: Sendable {
    let jobs: any JobStore
    let models: ModelCatalog
    let hub: CompletionHub
    let running: RunningJobs
    let jobTimeout: TimeInterval
    let logger: Logger

    /// Runs `job`, which `worker` holds. Cancellation of the calling task (shutdown past
    /// the drain timeout) hands the job back to the queue. Returns the worker's next job
    /// when the store claimed one in the same transaction as this one's completion.
    @discardableResult
    func run(_ claimed: ClaimedJob, worker: String, claimNextFor lease: TimeInterval? = nil) async -> ClaimedJob? {
        let job = claimed.record
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(job.id)"
        let request: GenerationRequest
        do {
            let parameters = try JSONDecoder().decode(NanoBanana2Parameters.self, from: Data(claimed.parameters.utf8))
            request = GenerationRequest(requestID: job.id, model: job.model, parameters: parameters)
        } catch {
            logger.error("Stored parameters are unreadable", metadata: ["error": "\(error)"])
            await finish(
                job, worker: worker, failure: "Internal error: the stored request could not be read.", code: .internal)
            return nil
        }
        guard let engine = models.engine(for: job.model) else {
            await finish(
                job, worker: worker, failure: "Model '\(job.model)' is no longer served by this server.",
                code: .invalidRequest)
            return nil
        }

        let (result, stop) = await generate(request, engine: engine, jobID: job.id, worker: worker)
        do {
            switch (stop, result) {
            case (.leaseLost, _):
                logger.warning("Lost the lease on a job while running it; leaving it to its new worker")
            case (.deadline, _):
                await finish(
                    job, worker: worker,
                    failure: "The request timed out: the engine did not finish within \(Int(jobTimeout)) seconds.",
                    code: .timedOut)
            case (nil, .success(let (image, seconds))):
                let output = JobOutput(
                    blobKey: "\(job.id).\(image.format.fileExtension)", format: image.format, width: image.width,
                    height: image.height, text: image.text, engine: engine.name, inferenceTime: seconds,
                    usage: image.usage)
                var completed: Bool
                var next: ClaimedJob?
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
                if !completed {
                    logger.warning("Finished a job whose lease had been lost; another worker owns it")
                }
                hub.finish(job.id, image: image.bytes)
                return next
            case (nil, .failure(let failure as EngineFailure)):
                await finish(job, worker: worker, failure: failure.description, code: failure.failureCode)
            case (nil, .failure(is CancellationError)):
                _ = try await jobs.release(jobID: job.id, worker: worker)
                logger.info("Handed an unfinished job back to the queue")
            case (nil, .failure(let error)):
                logger.error("Engine error", metadata: ["error": "\(error)"])
                await finish(
                    job, worker: worker, failure: "Internal error while generating the image (request \(job.id)).",
                    code: .internal)
            }
        } catch {
            logger.error("Could not record the outcome of a job", metadata: ["error": "\(error)"])
        }
        return nil
    }

    /// Runs a store write that records an outcome, retrying while the store is unreachable
    /// (an outage of a minute at most), so that a finished image is not thrown away and run
    /// again. Meanwhile the lease may run out; the store then refuses the write, and the
    /// job's next worker records it instead.
    private func persisting<T>(_ write: () async throws -> T) async throws -> T {
        var backoff = Backoff()
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await write()
            } catch let error as StoreUnavailable {
                guard ContinuousClock.now < deadline, !Task.isCancelled else { throw error }
                if backoff.failures == 0 {
                    logger.warning("Could not record a job's outcome; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    private func finish(_ job: JobRecord, worker: String, failure: String, code: FailureCode) async {
        do {
            _ = try await persisting { try await jobs.fail(jobID: job.id, worker: worker, error: failure, code: code) }
        } catch {
            logger.error("Could not record a failed job", metadata: ["request_id": "\(job.id)", "error": "\(error)"])
        }
        hub.finish(job.id)
    }

    /// The engine call in its own task, registered with the keeper while it runs. The
    /// worker waits for whichever comes first: the engine's result, or the keeper stopping
    /// the job (deadline, lost lease), so an engine that ignores cancellation cannot hold
    /// a worker past the deadline.
    private func generate(
        _ request: GenerationRequest, engine: any ImageEngine, jobID: String, worker: String
    ) async
        -> (Result<(GeneratedImage, Double), any Error>, RunningJobs.Stop?)
    {
        let waiter = ResumeOnce()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                waiter.set(continuation)
                let task = Task(priority: .high) {
                    let start = ContinuousClock.now
                    do {
                        let image = try await engine.generate(request)
                        let elapsed = ContinuousClock.now - start
                        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                        waiter.record(.success((image, seconds)))
                    } catch {
                        waiter.record(.failure(error))
                    }
                    waiter.resume()
                }
                running.insert(
                    jobID: jobID, worker: worker, deadline: .now + .seconds(jobTimeout), task: task,
                    release: { waiter.resume() })
            }
        } onCancel: {
            running.cancel(jobID: jobID)
            waiter.resume()
        }
        let stop = running.remove(jobID: jobID)
        return (waiter.outcome, stop)
    }
}

/// The engine's outcome, and the worker's continuation resumed exactly once: by the
/// engine finishing, or by the keeper or shutdown stopping the job, whichever is first.
private final class ResumeOnce: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, resumed: Bool)>((nil, false))
    private let result = Mutex<Result<(GeneratedImage, Double), any Error>>(.failure(CancellationError()))

    var outcome: Result<(GeneratedImage, Double), any Error> { result.withLock { $0 } }

    func record(_ outcome: Result<(GeneratedImage, Double), any Error>) {
        result.withLock { $0 = outcome }
    }

    func set(_ continuation: CheckedContinuation<Void, Never>) {
        let resumeNow = state.withLock { state in
            if state.resumed { return true }
            state.continuation = continuation
            return false
        }
        if resumeNow { continuation.resume() }
    }

    func resume() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.resumed else { return nil }
            state.resumed = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
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
