import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// Renders stored jobs as the wire's status and result bodies.
struct JobViews: Sendable {
    let jobs: any JobReader
    let keys: any APIKeyAdministration
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

    /// The job's metrics, with its cost and (for a metered key) the key's balance now.
    func metrics(_ job: JobRecord, key: APIKey) async throws -> JobMetrics {
        try await metrics(job, metered: key.credits != nil)
    }

    /// The job's metrics, with its cost and, when its key is `metered`, the key's balance now.
    func metrics(_ job: JobRecord, metered: Bool) async throws -> JobMetrics {
        let now = clock.now()
        let remaining = metered ? try await keys.balance(keyID: job.keyID) : nil
        return JobMetrics(
            inferenceTime: job.output?.inferenceTime, queueTime: job.queueTime(now: now),
            totalTime: job.totalTime(now: now),
            retryCount: max(0, job.state.attempts - 1) + (job.output?.usage.retries ?? 0),
            promptTokens: job.output?.usage.promptTokens, outputTokens: job.output?.usage.outputTokens,
            totalTokens: job.output?.usage.totalTokens, cost: job.status == .failed ? 0 : job.cost,
            remainingCredits: remaining)
    }

    func statusBody(_ job: JobRecord, key: APIKey) async throws -> StatusBody {
        StatusBody(
            requestID: job.id, status: job.status, queuePosition: try await jobs.queuePosition(of: job),
            error: job.state.error, metrics: try await metrics(job, key: key))
    }

    /// The status body under its HTTP status: 422 for FAILED, else `status`.
    func statusResponse(
        _ job: JobRecord, key: APIKey, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) async throws -> Response {
        let body = try await statusBody(job, key: key)
        return .json(body, status: job.status == .failed ? .unprocessableContent : status, headers: headers)
    }

    func resultBody(_ job: JobRecord, output: JobOutput, key: APIKey, request: Request) async throws -> ResultBody {
        let metrics = try await metrics(job, key: key)
        return try resultBody(job, output: output, metrics: metrics, base: urls.base(for: request))
    }

    /// The result body, its links under `base` (`https://host`, no trailing slash).
    func resultBody(_ job: JobRecord, output: JobOutput, metrics: JobMetrics, base: String) throws -> ResultBody {
        let expires = (job.completedAt ?? clock.now()).addingTimeInterval(retention)
        let link = try base + signer.signedPath(fileName: output.blobKey, expires: expires)
        return ResultBody(
            requestID: job.id, output: link, text: output.text, engine: output.engine, metrics: metrics,
            width: output.width, height: output.height, seed: job.seed,
            outputFormat: output.format, createdAt: Self.timestamp(job.createdAt),
            completedAt: Self.timestamp(job.completedAt ?? clock.now()))
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
