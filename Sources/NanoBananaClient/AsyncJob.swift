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

    /// Waits until COMPLETED (returning the result) or FAILED (throwing ``InferenceFailed``),
    /// for at most `timeout` (to the millisecond: then ``InferenceTimeout``; the request goes
    /// on; a zero timeout looks once). It follows the request's event stream, and falls back to long-polling the status
    /// (`?wait=`, at least `interval` apart) on a server without one. 429 and 5xx answers
    /// while polling are retried within the deadline (honouring `Retry-After`); cancelling
    /// the task stops the wait. `progress` hears each QUEUED (with its position) and
    /// PROCESSING status.
    public func wait(
        timeout: Duration = .seconds(600), interval: Duration = .seconds(1),
        progress: (@Sendable (StatusBody) -> Void)? = nil
    ) async throws -> GenerationResult {
        let clock = ContinuousClock()
        let start = clock.now
        if timeout <= .zero {
            // No time to wait: the request as it is now.
            let status = try await status()
            switch status.status {
            case .completed: return try await result()
            case .failed: throw InferenceFailed(detail: status.error, statusBody: status)
            case .queued, .processing: throw InferenceTimeout(requestID: requestID, elapsed: 0)
            }
        }
        let deadline = start + timeout
        let outcome = try await Race.first(
            try await follow(interval: interval, progress: progress),
            orNilAt: deadline)
        if let outcome { return outcome }
        let elapsed = clock.now - start
        throw InferenceTimeout(
            requestID: requestID,
            elapsed: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// The event stream to the end, or long-polls on a server without one.
    private func follow(
        interval: Duration, progress: (@Sendable (StatusBody) -> Void)?
    ) async throws
        -> GenerationResult
    {
        var final: JobEvent?
        do {
            try await streamEvents { event in
                switch event {
                case .queued(let status), .processing(let status): progress?(status)
                case .completed, .failed: final = event
                }
            }
        } catch is APIError {
            return try await poll(interval: interval, progress: progress)
        }
        switch final {
        case .completed(let body): return GenerationResult(client: client, body: body)
        case .failed(let status): throw InferenceFailed(detail: status.error, statusBody: status)
        default: return try await poll(interval: interval, progress: progress)
        }
    }

    /// Long-polls the status (`?wait=30`; a server that does not hold the answer is asked
    /// again after `interval`) until the request finishes.
    private func poll(
        interval: Duration, progress: (@Sendable (StatusBody) -> Void)?
    ) async throws
        -> GenerationResult
    {
        let clock = ContinuousClock()
        var reported: (JobStatus, Int?)?
        while true {
            let asked = clock.now
            var pause: Duration = .zero
            do {
                let status = try await status(wait: 30)
                switch status.status {
                case .completed: return try await result()
                case .failed: throw InferenceFailed(detail: status.error, statusBody: status)
                case .queued, .processing:
                    if reported.map({ $0 != (status.status, status.queuePosition) }) ?? true {
                        progress?(status)
                        reported = (status.status, status.queuePosition)
                    }
                    pause = max(.zero, interval - (clock.now - asked))
                }
            } catch let error as APIError where error.status == 429 || error.status >= 500 {
                pause = error.retryAfter.map { .milliseconds(Int64($0 * 1000)) } ?? interval * 2
            }
            try await Task.sleep(for: pause)
        }
    }

    /// The status, held by the server until the request finishes or `wait` seconds pass.
    func status(wait: Int) async throws -> StatusBody {
        let url = statusURL + (statusURL.contains("?") ? "&" : "?") + "wait=\(wait)"
        let (_, body) = try await client.send(.GET, url: url, tolerate: { status, _ in status == 422 })
        return try JSONDecoder().decode(StatusBody.self, from: Data(body))
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
