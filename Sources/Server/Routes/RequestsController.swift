import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// `GET /v2/requests/{id}/status` (with `?wait=N`, a long-poll), `GET /v2/requests/{id}`
/// and `GET /v2/requests/{id}/events` (Server-Sent Events).
struct RequestsController: Sendable {
    let views: JobViews
    let hub: CompletionHub
    /// Waits for a job to finish, for a long-poll.
    let completions: CompletionWaiter
    let urls: PublicURLs
    /// How often an event stream reads its job again for queue moves and the start.
    var eventRecheck: Duration = .seconds(1)
    /// How often a quiet event stream sends a comment.
    var keepAlive: Duration = .seconds(15)

    func addRoutes(to v2: RouterGroup<APIRequestContext>) {
        v2.get("requests/:id/status", use: status)
        v2.get("requests/:id/events", use: events)
        v2.get("requests/:id", use: result)
    }

    /// The status now; with `?wait=N`, once the request is COMPLETED or FAILED or after N
    /// seconds, whichever comes first.
    @Sendable func status(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let id = try context.parameters.require("id")
        let wait: Duration?
        switch WaitTime.query(request.uri.queryParameters["wait"]) {
        case .success(let duration): wait = duration
        case .failure(let refusal): throw APIError.badRequest(refusal.message)
        }
        var job = try await views.visibleJob(id: id, key: key)
        context.access.jobID = job.id
        if let wait, !job.status.isTerminal {
            hub.expect(job.id)
            defer { hub.forget(job.id) }
            // Read again now that the hub listens: a finish in between is not missed.
            job = try await views.visibleJob(id: id, key: key)
            if !job.status.isTerminal {
                _ = try await completions.wait(for: job.id, timeout: wait)
                job = try await views.visibleJob(id: id, key: key)
            }
        }
        return try await views.statusResponse(job, key: key)
    }

    /// COMPLETED: 200 with the result; FAILED: 422; still running: 202 with the status.
    @Sendable func result(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let job = try await views.visibleJob(id: try context.parameters.require("id"), key: key)
        context.access.jobID = job.id
        guard job.status == .completed, let output = job.output else {
            return try await views.statusResponse(job, key: key, status: .accepted)
        }
        return .json(try await views.resultBody(job, output: output, key: key, request: request))
    }

    /// The request's changes as Server-Sent Events (``JobEventStream``), until its final one.
    @Sendable func events(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let job = try await views.visibleJob(id: try context.parameters.require("id"), key: key)
        context.access.jobID = job.id
        let stream = JobEventStream(
            jobID: job.id, key: key, views: views, hub: hub, base: urls.base(for: request),
            recheckEvery: eventRecheck, keepAliveEvery: keepAlive)
        let lastEventID = request.headers[.lastEventID]
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        headers[.accelBuffering] = "no"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await stream.run(lastEventID: lastEventID) { text in
                    try await writer.write(ByteBuffer(string: text))
                }
                try await writer.finish(nil)
            })
    }
}
