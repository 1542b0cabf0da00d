import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI
import Store

/// Turns every error into a JSON `{"error": "…"}` response: ours keep their status and
/// text, Hummingbird's (no route, body too large) get a clear sentence, and anything else
/// is logged and becomes a 500 naming the request id, never a stack trace.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return Response.json(
                ErrorBody(error: message(for: error, request: request)), status: error.status, headers: error.headers)
        } catch let error as StoreUnavailable {
            context.logger.warning("Store unavailable", metadata: ["error": "\(error.reason)"])
            return Response.json(
                ErrorBody(
                    error: "Service temporarily unavailable: the job store cannot be reached. Retry in a few seconds."),
                status: .serviceUnavailable, headers: [.retryAfter: "2"])
        } catch is NIOTooManyBytesError {
            return Response.json(ErrorBody(error: tooLargeMessage), status: .contentTooLarge)
        } catch let error as any HTTPResponseError {
            return Response.json(ErrorBody(error: error.status.reasonPhrase), status: error.status)
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
