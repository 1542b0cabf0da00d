import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// One request's Server-Sent Events (`GET /v2/requests/{id}/events`): an event for each
/// change of its state (`queued` with the queue position as it moves, `processing`, then
/// `completed` with the result body or `failed` with the status body and its error), then
/// the stream ends.
///
/// A finish wakes the stream at once (the ``CompletionHub`` hears of this node's and, in a
/// cluster, every node's finishes); queue moves and the start are read every
/// `recheckEvery`, a running job only every fifth. No task or thread is held per stream between reads: it waits in the
/// hub. Each event's `id:` names the state it reports, so a client that reconnects with
/// `Last-Event-ID` gets only what changed since. A comment every `keepAliveEvery` keeps
/// proxies from closing a quiet stream. While the node shuts down the stream ends, and the
/// client reconnects (to another node, in a cluster).
struct JobEventStream: Sendable {
    let jobID: String
    let key: APIKey
    let views: JobViews
    let hub: CompletionHub
    /// `https://host` for the result body's links.
    let base: String
    let recheckEvery: Duration
    let keepAliveEvery: Duration

    /// A state as an event: its name and its `id:`.
    struct Moment: Equatable, Sendable {
        let event: String
        let id: String

        init(status: JobStatus, position: Int?) {
            switch status {
            case .queued:
                event = "queued"
                id = position.map { "queued.\($0)" } ?? "queued"
            case .processing: (event, id) = ("processing", "processing")
            case .completed: (event, id) = ("completed", "completed")
            case .failed: (event, id) = ("failed", "failed")
            }
        }
    }

    /// Writes the stream through `write` until the request's final event, its expiry, the
    /// node's shutdown, or the client's departure (a failed write).
    func run(lastEventID: String?, write: (String) async throws -> Void) async throws {
        hub.expect(jobID)
        defer { hub.forget(jobID) }
        var sent = lastEventID
        var lastWrite = ContinuousClock.now
        try await write("retry: 2000\n\n")
        while !Task.isCancelled {
            // Expired or deleted under the stream: nothing more will happen to it.
            guard let job = try await views.jobs.job(id: jobID), !views.isExpired(job) else { return }
            let position = try await views.jobs.queuePosition(of: job)
            let moment = Moment(status: job.status, position: position)
            if moment.id != sent {
                try await write(try await event(moment, job: job, position: position))
                sent = moment.id
                lastWrite = .now
            }
            if job.status.isTerminal || hub.drainDeadline != nil { return }
            if ContinuousClock.now - lastWrite >= keepAliveEvery {
                try await write(": keep-alive\n\n")
                lastWrite = .now
            }
            // A QUEUED job's position moves and it starts without the hub hearing of it, so
            // it is read again each `recheckEvery`. A running one's finish comes through
            // the hub: the reread only covers a lost announcement.
            let recheck = job.status == .queued ? recheckEvery : recheckEvery * 5
            let untilKeepAlive = keepAliveEvery - (ContinuousClock.now - lastWrite)
            _ = await hub.wait(for: jobID, timeout: max(.milliseconds(1), min(recheck, untilKeepAlive)))
        }
    }

    /// The event's lines: `event:`, `id:` and the JSON body as one `data:` line.
    private func event(_ moment: Moment, job: JobRecord, position: Int?) async throws -> String {
        let metrics = try await views.metrics(job, key: key)
        let data: Data
        if job.status == .completed, let output = job.output {
            data = try Response.encoder.encode(try views.resultBody(job, output: output, metrics: metrics, base: base))
        } else {
            let body = StatusBody(
                requestID: job.id, status: job.status, queuePosition: position, error: job.state.error, metrics: metrics
            )
            data = try Response.encoder.encode(body)
        }
        return "event: \(moment.event)\nid: \(moment.id)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
    }
}
