import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// Renders stored jobs as the wire's status and result bodies.
struct JobViews: Sendable {
    let jobs: any JobStore
    let clock: any WallClock
    let retention: TimeInterval
    let signer: OutputURLSigner
    let urls: PublicURLs

    /// The job if it exists, belongs to `key` and has not expired; otherwise a 404 that
    /// does not say which.
    func visibleJob(id: String, key: APIKey) async throws -> JobRecord {
        guard let job = try await jobs.job(id: id), job.keyID == key.id, !isExpired(job) else {
            throw APIError.notFound(
                "No request with id '\(id)'. Unknown, not yours, or expired (results are kept \(Int(retention)) seconds)."
            )
        }
        return job
    }

    func isExpired(_ job: JobRecord) -> Bool {
        guard let completed = job.completedAt else { return false }
        return completed.addingTimeInterval(retention) <= clock.now()
    }

    func metrics(_ job: JobRecord) -> JobMetrics {
        let now = clock.now()
        return JobMetrics(
            inferenceTime: job.output?.inferenceTime, queueTime: job.queueTime(now: now),
            totalTime: job.totalTime(now: now),
            retryCount: max(0, job.state.attempts - 1) + (job.output?.usage.retries ?? 0),
            promptTokens: job.output?.usage.promptTokens, outputTokens: job.output?.usage.outputTokens,
            totalTokens: job.output?.usage.totalTokens)
    }

    func statusBody(_ job: JobRecord) async throws -> StatusBody {
        StatusBody(
            requestID: job.id, status: job.status, queuePosition: try await jobs.queuePosition(of: job),
            error: job.state.error, metrics: metrics(job))
    }

    /// The status body under its HTTP status: 422 for FAILED, else `status`.
    func statusResponse(_ job: JobRecord, status: HTTPResponse.Status = .ok) async throws -> Response {
        let body = try await statusBody(job)
        return .json(body, status: job.status == .failed ? .unprocessableContent : status)
    }

    func resultBody(_ job: JobRecord, output: JobOutput, request: Request) -> ResultBody {
        let expires = (job.completedAt ?? clock.now()).addingTimeInterval(retention)
        let link = urls.base(for: request) + signer.signedPath(fileName: output.blobKey, expires: expires)
        return ResultBody(
            requestID: job.id, output: link, text: output.text, engine: output.engine, metrics: metrics(job),
            width: output.width, height: output.height, seed: job.seed,
            outputFormat: output.format, createdAt: Self.timestamp(job.createdAt),
            completedAt: Self.timestamp(job.completedAt ?? clock.now()))
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
