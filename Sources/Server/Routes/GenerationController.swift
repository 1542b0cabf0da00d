import Foundation
import HTTPTypes
import Hummingbird
import NanoBananaAPI
import Store

/// `POST /v1/{model}` (sync: waits and returns the image bytes) and `POST /v2/{model}`
/// (async: returns the request id and its URLs at once). Both go through the same queue.
struct GenerationController: Sendable {
    let submitter: JobSubmitter
    let views: JobViews
    let hub: CompletionHub
    let completions: CompletionWaiter
    /// Waits for a `Prefer: wait` submit's job.
    let longPolls: CompletionWaiter
    let urls: PublicURLs
    let served: ServedImages
    let syncTimeout: TimeInterval

    func addRoutes(v1: RouterGroup<APIRequestContext>, v2: RouterGroup<APIRequestContext>) {
        v1.post(":model", use: runSync)
        v2.post(":model", use: submitAsync)
    }

    /// The request id and its links at once; with `Prefer: wait=N`, the finished result (or
    /// the failure) if the job ends within N seconds. A replay (an `Idempotency-Key`) answers
    /// for the original request.
    @Sendable func submitAsync(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let model = try context.parameters.require("model")
        let wait = WaitTime.preferred(request.headers[values: .prefer])
        let submission = try await submitter.submit(
            model: model, request: request, context: context, key: key, expectingCompletion: wait != nil)
        let id = submission.job.id
        var headers = submission.headers
        if let wait {
            defer { hub.forget(id) }
            // The job runs on whether or not this answer waits for it: a client that leaves
            // can still poll it, so nothing is withdrawn here.
            _ = try await longPolls.wait(for: id, timeout: wait)
            headers[.preferenceApplied] = "wait=" + WaitTime.text(wait)
            if let finished = try await views.jobs.job(id: id), finished.status.isTerminal {
                guard finished.status == .completed, let output = finished.output else {
                    return try await views.statusResponse(finished, key: key, headers: headers)
                }
                let body = try await views.resultBody(finished, output: output, key: key, request: request)
                return .json(body, headers: headers)
            }
        }
        let status = urls.statusURL(id, request: request)
        // A replay answers the original body: the same request id, as first submitted.
        let body = SubmitBody(
            requestID: id, status: .queued, statusURL: status, responseURL: urls.responseURL(id, request: request),
            pollURL: status)
        return .json(body, headers: headers)
    }

    /// Waits for the job of `submission`; a replay whose job has finished waits not at all.
    private func wait(
        for submission: JobSubmitter.Submission, key: APIKey, context: APIRequestContext
    ) async throws -> CompletionWaiter.Outcome {
        let job = submission.job
        // A request with an idempotency key is never withdrawn: its client can come back for
        // it (and a replay's job is its original's).
        guard submission.idempotent else { return try await waitWatchingClient(for: job, key: key, context: context) }
        if submission.replayed, try await views.jobs.job(id: job.id)?.status.isTerminal != false { return .finished }
        return try await completions.wait(for: job.id, timeout: .seconds(syncTimeout))
    }

    /// Waits for the job while watching the connection: a client that leaves while its job
    /// is QUEUED gets it withdrawn (``QueuedJobWithdrawal``).
    private func waitWatchingClient(
        for job: JobRecord, key: APIKey, context: APIRequestContext
    ) async throws -> CompletionWaiter.Outcome {
        let metrics = submitter.metrics
        let withdrawal = QueuedJobWithdrawal(
            jobID: job.id, jobs: submitter.jobs, hub: hub, logger: context.logger.about(job)
        ) {
            metrics.failed(job, code: .cancelled, metered: key.credits != nil)
        }
        defer { withdrawal.disarm() }
        await context.channel.clientDeparture()?.whenSuccess { withdrawal.clientLeft() }
        return try await completions.wait(for: job.id, timeout: .seconds(syncTimeout))
    }

    @Sendable func runSync(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let model = try context.parameters.require("model")
        let submission = try await submitter.submit(
            model: model, request: request, context: context, key: key, expectingCompletion: true)
        let submitted = submission.job
        defer { hub.forget(submitted.id) }
        let outcome = try await wait(for: submission, key: key, context: context)
        let replayed = submission.headers

        guard let job = try await views.jobs.job(id: submitted.id) else {
            throw APIError.notFound("Request '\(submitted.id)' expired before it could be returned.")
        }
        switch job.status {
        case .completed:
            guard let output = job.output else {
                throw APIError(.internalServerError, "The output of request \(job.id) is missing from storage.")
            }
            let image = try await served.image(key: output.blobKey) {
                if let image = hub.image(of: job.id) { return image }
                return try await views.jobs.image(key: output.blobKey)
            }
            guard let image else {
                throw APIError(.internalServerError, "The image of request \(job.id) is missing from storage.")
            }
            var headers = replayed
            headers[.contentType] = output.format.mimeType
            headers[.requestID] = job.id
            headers[.generationTime] = String(format: "%.3f", output.inferenceTime)
            headers[.seedValue] = String(job.seed)
            headers[.cost] = String(job.cost)
            if key.credits != nil, let remaining = try await views.keys.balance(keyID: key.id) {
                headers[.remainingCredits] = String(remaining)
            }
            return Response(status: .ok, headers: headers, body: .inSlices(image))
        case .failed:
            // Upstream trouble and deadlines keep their gateway statuses on the sync route;
            // every other failure is the request's own, 422 as on the async routes.
            let status: HTTPResponse.Status =
                switch job.state.failureCode {
                case .upstreamUnavailable, .upstreamError: .badGateway
                case .timedOut: .gatewayTimeout
                default: .unprocessableContent
                }
            throw APIError(
                status,
                body: ErrorBody(
                    error: job.state.error ?? "The request failed.", requestID: job.id, status: .failed,
                    statusURL: urls.statusURL(job.id, request: request),
                    responseURL: urls.responseURL(job.id, request: request)),
                headers: replayed)
        case .queued, .processing:
            // Not finished: the sync timeout passed, or the node is shutting down first
            // (503, the job stays queued for the next start or another node).
            let shuttingDown = outcome == .shuttingDown
            let reason =
                shuttingDown
                ? "The server is shutting down before request \(job.id) finished. It is still \(job.status.rawValue) and stays in the queue"
                : "The request did not finish within \(Int(syncTimeout)) seconds. It is still \(job.status.rawValue)"
            let retry = submission.idempotent ? ", or send it again with the same Idempotency-Key to wait for it" : ""
            var headers = replayed
            if shuttingDown { headers[.retryAfter] = "5" }
            throw APIError(
                shuttingDown ? .serviceUnavailable : .gatewayTimeout,
                body: ErrorBody(
                    error: reason + "; fetch its result from response_url\(retry).", requestID: job.id,
                    status: job.status, statusURL: urls.statusURL(job.id, request: request),
                    responseURL: urls.responseURL(job.id, request: request)),
                headers: headers)
        }
    }
}
