import AsyncHTTPClient
import Foundation
import NanoBananaAPI

/// A submitted v2 request: poll it, fetch its result, or wait for it.
public struct AsyncJob: Sendable {
    let client: Client
    public let requestID: String
    public let statusURL: String
    public let responseURL: String

    /// The current status. A FAILED request's status (served as 422) is returned, not thrown.
    public func status() async throws -> StatusBody {
        let (_, body) = try await client.send(.GET, url: statusURL, tolerate: { status, _ in status == 422 })
        return try JSONDecoder().decode(StatusBody.self, from: Data(body))
    }

    /// The result of a COMPLETED request. Throws ``InferenceFailed`` for a FAILED one, and
    /// ``InferenceTimeout`` (with no time waited) for one still running: to wait, call
    /// ``wait(timeout:interval:)``.
    public func result() async throws -> GenerationResult {
        let (head, body) = try await client.send(.GET, url: responseURL, tolerate: { status, _ in status == 422 })
        if head.status.code == 200 {
            return GenerationResult(client: client, body: try JSONDecoder().decode(ResultBody.self, from: Data(body)))
        }
        let status = try JSONDecoder().decode(StatusBody.self, from: Data(body))
        if status.status == .failed { throw InferenceFailed(detail: status.error, statusBody: status) }
        throw InferenceTimeout(requestID: requestID, elapsed: 0)
    }

    /// Polls until COMPLETED (returning the result) or FAILED (throwing ``InferenceFailed``),
    /// for at most `timeout`. 429 and 5xx answers while polling are retried within the
    /// deadline (honouring `Retry-After`); cancelling the task stops the wait.
    public func wait(
        timeout: Duration = .seconds(600), interval: Duration = .seconds(1)
    ) async throws
        -> GenerationResult
    {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        while true {
            var pause = interval
            do {
                let status = try await status()
                switch status.status {
                case .completed: return try await result()
                case .failed: throw InferenceFailed(detail: status.error, statusBody: status)
                case .queued, .processing: break
                }
            } catch let error as APIError where error.status == 429 || error.status >= 500 {
                pause = error.retryAfter.map { .milliseconds(Int64($0 * 1000)) } ?? interval * 2
            }
            if clock.now + pause > deadline {
                let elapsed = clock.now - start
                throw InferenceTimeout(
                    requestID: requestID,
                    elapsed: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            try await Task.sleep(for: pause)
        }
    }
}

/// A COMPLETED request's body, and a way to download its image.
public struct GenerationResult: Sendable {
    let client: Client
    public let body: ResultBody

    /// Downloads the image behind `body.output` (a signed link: no key is sent).
    public func image() async throws -> [UInt8] {
        try await client.send(.GET, url: body.output, authenticated: false).body
    }
}
