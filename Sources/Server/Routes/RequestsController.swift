import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// `GET /v2/requests/{id}/status` and `GET /v2/requests/{id}`.
struct RequestsController: Sendable {
    let views: JobViews

    func addRoutes(to v2: RouterGroup<APIRequestContext>) {
        v2.get("requests/:id/status", use: status)
        v2.get("requests/:id", use: result)
    }

    @Sendable func status(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        let job = try await views.visibleJob(id: try context.parameters.require("id"), key: key)
        context.access.jobID = job.id
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
}
