import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// A key's requests within the retention:
///
/// - `GET /v2/requests`: a page of them, newest first (``HistoryParameters``);
/// - `GET /v2/requests/{id}/detail`: one of them;
/// - the same under `/inference-request/request-history` and
///   `/inference-request/request-history/{id}`, where the segmind SDK's
///   `generations.history()` and `generations.get()` look (its `REQUEST_HISTORY_URL`).
///
/// An admin key may pass `key=` (a key's id or name) to see another key's requests.
struct HistoryController: Sendable {
    let history: any RequestHistory
    let views: JobViews

    func addRoutes(v2: RouterGroup<APIRequestContext>, segmind: RouterGroup<APIRequestContext>) {
        v2.get("requests", use: list)
        v2.get("requests/:id/detail", use: detail)
        segmind.get("request-history", use: list)
        segmind.get("request-history/:id", use: detail)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let caller = try context.requireKey()
        let parameters = try HistoryParameters(request: request)
        let keyID = try await owner(asked: parameters.key, by: caller)
        let page = try await history.history(
            parameters.query(keyID: keyID, finishedAfter: views.clock.now().addingTimeInterval(-views.retention)))
        let base = views.urls.base(for: request)
        return .json(
            HistoryPageBody(
                data: try page.rows.map { try views.historyRow($0, base: base) }, page: parameters.page,
                perPage: parameters.perPage, total: page.total))
    }

    @Sendable func detail(_ request: Request, context: APIRequestContext) async throws -> Response {
        let caller = try context.requireKey()
        let query = request.uri.queryParameters
        if let unknown = query.map({ String($0.key) }).sorted().first(where: { $0 != "key" }) {
            throw APIError.badRequest(
                "Unknown query parameter '\(ErrorBody.echo(unknown))'. One request's detail takes only: key.")
        }
        let keyID = try await owner(asked: query["key"].map(String.init), by: caller)
        let id = try context.parameters.require("id")
        guard let row = try await history.historyRow(id: id), row.record.keyID == keyID, !views.isExpired(row.record)
        else {
            throw APIError.notFound(
                "No request with id '\(ErrorBody.echo(id))'. Unknown, not yours, or expired (requests are kept \(Int(views.retention)) seconds)."
            )
        }
        context.access.jobID = row.record.id
        return .json(try views.historyRow(row, base: views.urls.base(for: request)))
    }

    /// Whose requests to show: the caller's own, or, for an admin key, the key `asked`
    /// names (404 when none has that id or name). Any other key asking is refused (403).
    private func owner(asked reference: String?, by caller: APIKey) async throws -> String {
        guard let reference else { return caller.id }
        guard caller.role == .admin else {
            throw APIError(.forbidden, "Only an admin key may see another key's requests ('key').")
        }
        if reference == caller.id { return caller.id }
        guard !reference.isEmpty else { throw APIError.badRequest("Invalid 'key': give a key's id or name.") }
        return try await views.keys.show(reference, ledgerLimit: 0, before: nil).key.id
    }
}

extension JobViews {
    /// A stored request as its history row, its link under `base`.
    func historyRow(_ row: HistoryRow, base: String) throws -> HistoryRowBody {
        let job = row.record
        var link: String?
        if job.status == .completed, let output = job.output {
            let expires = (job.completedAt ?? clock.now()).addingTimeInterval(retention)
            link = try base + signer.signedPath(fileName: output.blobKey, expires: expires)
        }
        return HistoryRowBody(
            requestID: job.id, modelName: job.model, status: job.status,
            creditsDeduction: job.status == .failed ? 0 : job.cost,
            requestBody: row.requestBody.flatMap { try? JSONValue(parsing: Array($0.utf8)) },
            generationURL: link,
            latencyMilliseconds: job.completedAt.map { Int(($0.timeIntervalSince(job.createdAt) * 1000).rounded()) },
            createdAt: Self.timestamp(job.createdAt), completedAt: job.completedAt.map(Self.timestamp),
            error: job.state.error)
    }
}
