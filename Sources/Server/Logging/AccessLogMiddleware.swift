import HTTPTypes
import Hummingbird
import Logging

/// The first middleware of the router: gives the request its id (``RequestCorrelation``)
/// as `request_id` on every line it logs, in place of Hummingbird's `hb.request.id`, and
/// writes its access line once the response is decided: `method`, `route` (the matched
/// route's template, such as `/v2/requests/{id}/status`, never the path with its ids and
/// query), `status`, `duration_ms` (until the response's head is ready), `bytes_out` (when
/// the body's length is known), `key_id` and `job_id` when the handlers learnt them.
///
/// It wraps ``JSONErrorMiddleware``, so the status is the one sent, errors included.
/// Hummingbird's `LogRequestsMiddleware` logs the raw path when the request arrives, before
/// any status: hence this one.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        var context = context
        context.requestID =
            RequestCorrelation.incoming(request.headers) ?? RequestCorrelation.generated(from: context.id)
        context.logger[metadataKey: "hb.request.id"] = nil
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        do {
            let response = try await next(request, context)
            log(request, context: context, status: response.status, bytes: response.body.contentLength, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            log(request, context: context, status: status, bytes: nil, since: start)
            throw error
        }
    }

    private func log(
        _ request: Request, context: Context, status: HTTPResponse.Status, bytes: Int?,
        since start: ContinuousClock.Instant
    ) {
        guard context.logger.logLevel <= .info else { return }
        let elapsed = (ContinuousClock.now - start).components
        let microseconds = elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "route": .string(context.endpointPath ?? "unknown"),
            "status": .stringConvertible(status.code),
            "duration_ms": .stringConvertible(Double(microseconds) / 1000),
        ]
        if let bytes { metadata["bytes_out"] = .stringConvertible(bytes) }
        if let keyID = context.access.keyID { metadata["key_id"] = .string(keyID) }
        if let jobID = context.access.jobID { metadata["job_id"] = .string(jobID) }
        context.logger.info("HTTP request", metadata: metadata)
    }
}

extension RequestContext {
    /// The id this request's lines carry: `request_id` (``AccessLogMiddleware``), else
    /// Hummingbird's own.
    var loggedRequestID: String { logger[metadataKey: "request_id"]?.description ?? id }
}
