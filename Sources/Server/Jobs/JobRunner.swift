import Engines
import Foundation
import Logging
import NanoBananaAPI
import Store

/// Runs one claimed job to its end: the engine under a deadline, a heartbeat that keeps the
/// lease, the image into the blob store, and the outcome into the job store.
struct JobRunner: Sendable {
    let jobs: any JobStore
    let blobs: any BlobStore
    let models: ModelCatalog
    let hub: CompletionHub
    let jobTimeout: TimeInterval
    let leaseDuration: TimeInterval
    let logger: Logger

    private enum Outcome: Sendable {
        case generated(GeneratedImage, seconds: Double)
        case timedOut
        case leaseLost
    }

    /// Runs `job`, which `worker` holds. Cancellation (shutdown past the drain timeout)
    /// hands the job back to the queue.
    func run(_ job: JobRecord, worker: String) async {
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(job.id)"
        let request: GenerationRequest
        do {
            let parameters = try JSONDecoder().decode(NanoBanana2Parameters.self, from: Data(job.parameters.utf8))
            request = GenerationRequest(requestID: job.id, model: job.model, parameters: parameters)
        } catch {
            logger.error("Stored parameters are unreadable", metadata: ["error": "\(error)"])
            await finish(job, worker: worker, failure: "Internal error: the stored request could not be read.")
            return
        }
        guard let engine = models.engine(for: job.model) else {
            await finish(job, worker: worker, failure: "Model '\(job.model)' is no longer served by this server.")
            return
        }

        do {
            switch try await generate(request, engine: engine, jobID: job.id, worker: worker) {
            case .generated(let image, let seconds):
                let key = "\(job.id).\(image.format.fileExtension)"
                try await blobs.put(image.bytes, key: key)
                let output = JobOutput(
                    blobKey: key, format: image.format, width: image.width, height: image.height, text: image.text,
                    engine: engine.name, inferenceTime: seconds)
                if try await !jobs.complete(jobID: job.id, worker: worker, output: output) {
                    logger.warning("Finished a job whose lease had been lost; another worker owns it")
                }
                hub.finish(job.id)
            case .timedOut:
                await finish(
                    job, worker: worker,
                    failure: "The request timed out: the engine did not finish within \(Int(jobTimeout)) seconds.")
            case .leaseLost:
                logger.warning("Lost the lease on a job while running it; leaving it to its new worker")
            }
        } catch let failure as EngineFailure {
            await finish(job, worker: worker, failure: failure.description)
        } catch is CancellationError {
            _ = try? await jobs.release(jobID: job.id, worker: worker)
            logger.info("Handed an unfinished job back to the queue")
        } catch {
            logger.error("Engine or store error", metadata: ["error": "\(error)"])
            await finish(job, worker: worker, failure: "Internal error while generating the image (request \(job.id)).")
        }
    }

    private func finish(_ job: JobRecord, worker: String, failure: String) async {
        do {
            _ = try await jobs.fail(jobID: job.id, worker: worker, error: failure)
        } catch {
            logger.error("Could not record a failed job", metadata: ["request_id": "\(job.id)", "error": "\(error)"])
        }
        hub.finish(job.id)
    }

    /// The engine call raced against the deadline, with a heartbeat alongside.
    private func generate(
        _ request: GenerationRequest, engine: any ImageEngine, jobID: String, worker: String
    )
        async throws -> Outcome
    {
        let jobs = self.jobs
        let lease = leaseDuration
        let timeout = jobTimeout
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                let start = ContinuousClock.now
                let image = try await engine.generate(request)
                let elapsed = ContinuousClock.now - start
                return .generated(
                    image, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return .timedOut
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(lease / 3))
                    if try await !jobs.renewLease(jobID: jobID, worker: worker, lease: lease) { return .leaseLost }
                }
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }
}
