import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI

/// Turns every error into a JSON `{"error": "…"}` response: Hummingbird's own (no route,
/// body too large) get a clear sentence, every other `HTTPResponseError` (``APIError``, the
/// store's errors in `StoreErrors+HTTP.swift`) renders itself, and anything else is logged
/// and becomes a 500 naming the request id, never a stack trace.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return Response.json(
                ErrorBody(error: message(for: error, request: request)), status: error.status, headers: error.headers)
        } catch is NIOTooManyBytesError {
            return Response.json(ErrorBody(error: tooLargeMessage), status: .contentTooLarge)
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        } catch {
            context.logger.error("Unhandled error", metadata: ["error": "\(error)"])
            return Response.json(
                ErrorBody(error: "Internal server error (request \(context.id)). It has been logged."),
                status: .internalServerError)
        }
    }

    private var tooLargeMessage: String { "The request body is larger than the limit of \(maxBodyBytes) bytes." }

    private func message(for error: HTTPError, request: Request) -> String {
        switch error.status {
        case .notFound:
            return "Not found: there is no route \(request.method) \(request.uri.path)."
        case .contentTooLarge:
            return tooLargeMessage
        default:
            return error.body ?? error.status.reasonPhrase
        }
    }
}
