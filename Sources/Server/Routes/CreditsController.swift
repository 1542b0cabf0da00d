import Hummingbird
import NanoBananaAPI
import Store

/// `GET /v1/get-user-credits`: the calling key's own balance, read from the store (not the
/// authentication cache, which may be a moment old).
struct CreditsController: Sendable {
    let keys: any APIKeyAdministration

    func addRoutes(to v1: RouterGroup<APIRequestContext>) {
        v1.get("get-user-credits", use: credits)
    }

    @Sendable func credits(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        return .json(CreditsBody(credits: try await keys.balance(keyID: key.id)))
    }
}
