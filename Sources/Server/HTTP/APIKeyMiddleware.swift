import HTTPTypes
import Hummingbird
import Store

/// Authenticates the `x-api-key` header: missing, unknown and revoked keys get 401. The
/// key itself is never logged.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    let keys: any APIKeyAuthenticator

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let secret = request.headers[.apiKey], !secret.isEmpty else {
            throw APIError.unauthorized("Missing API key: send it in the x-api-key header.")
        }
        guard let key = try await keys.authenticate(secret: secret) else {
            throw APIError.unauthorized("Invalid API key.")
        }
        guard !key.isRevoked else {
            throw APIError.unauthorized("This API key has been revoked.")
        }
        guard !key.isDisabled else {
            throw APIError(.forbidden, "This API key is disabled. Ask the server's operator to enable it.")
        }
        var context = context
        context.apiKey = key
        context.logger[metadataKey: "key_id"] = "\(key.id)"
        context.access.keyID = key.id
        return try await next(request, context)
    }
}
