import Foundation
import NanoBananaAPI
import Store

/// Renders an event's body: `{"type", "timestamp", "data"}`, where `data` is what
/// `GET /v2/requests/{id}` returns for that state (the result of a COMPLETED request, the
/// status of a FAILED one, and a PROCESSING status for `processing`, even if the job has
/// moved on since). Rendered once, at an event's first attempt; every retry sends the same
/// bytes.
struct WebhookPayloads: Sendable {
    let views: JobViews
    /// Where links point: the configured public URL, or `http://host:port`.
    let base: String

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    struct Envelope<Body: Encodable>: Encodable {
        var type: String
        var timestamp: String
        var data: Body
    }

    /// The body of `event`; `nil` when its request is gone (expired before the first attempt).
    func render(_ event: WebhookEvent) async throws -> String? {
        guard let job = try await views.jobs.job(id: event.jobID) else { return nil }
        let metered = try await views.keys.balance(keyID: job.keyID) != nil
        let metrics = try await views.metrics(job, metered: metered)
        let type = event.type.wireType
        let timestamp = JobViews.timestamp(event.createdAt)
        let data: Data
        switch event.type {
        case .completed:
            guard let output = job.output else { return nil }
            let body = try views.resultBody(job, output: output, metrics: metrics, base: base)
            data = try Self.encoder.encode(Envelope(type: type, timestamp: timestamp, data: body))
        case .failed:
            let body = StatusBody(requestID: job.id, status: .failed, error: job.state.error, metrics: metrics)
            data = try Self.encoder.encode(Envelope(type: type, timestamp: timestamp, data: body))
        case .processing:
            let body = StatusBody(requestID: job.id, status: .processing, metrics: metrics)
            data = try Self.encoder.encode(Envelope(type: type, timestamp: timestamp, data: body))
        }
        return String(decoding: data, as: UTF8.self)
    }
}
