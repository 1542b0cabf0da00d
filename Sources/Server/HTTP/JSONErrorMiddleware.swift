import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI

/// Turns every error into a JSON `{"error": "…"}` response: Hummingbird's own (no route,
/// body too large) get a clear sentence, every other `HTTPResponseError` (``APIError``, the
/// store's errors in `StoreErrors+HTTP.swift`) renders itself, and anything else is logged
/// and becomes a 500 naming the request id, never a stack trace. A body that breaks HTTP's
/// framing (a bad chunk size) is a 400, and a client that went away mid-request (an upload
/// abandoned) only a debug line: neither is the server's error.
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
            if MalformedRequest.isClientAbort(error) {
                context.logger.debug("The client went away mid-request", metadata: ["error": "\(error)"])
                return Response.json(
                    ErrorBody(error: "The connection closed before the request was read."), status: .badRequest)
            }
            if let sentence = MalformedRequest.sentence(for: error) {
                context.logger.debug("Malformed request body", metadata: ["error": "\(error)"])
                return Response.json(ErrorBody(error: sentence), status: .badRequest)
            }
            context.logger.error("Unhandled error", metadata: ["error": "\(error)"])
            return Response.json(
                ErrorBody(error: "Internal server error (request \(context.loggedRequestID)). It has been logged."),
                status: .internalServerError)
        }
    }

    private var tooLargeMessage: String { "The request body is larger than the limit of \(maxBodyBytes) bytes." }

    private func message(for error: HTTPError, request: Request) -> String {
        switch error.status {
        case .notFound:
            return "Not found: there is no route \(request.method) \(ErrorBody.echo(request.uri.path))."
        case .contentTooLarge:
            return tooLargeMessage
        default:
            return error.body ?? error.status.reasonPhrase
        }
    }
}
