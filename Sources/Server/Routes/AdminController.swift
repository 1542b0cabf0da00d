import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// The admin routes, for keys with the `admin` role (others get 403): the same key
/// operations as the CLI, over HTTP.
///
/// - `POST /admin/keys` `{"name", "credits"?, "rpm"?, "burst"?, "max_in_flight"?, "role"?, "models"?}`
/// - `GET /admin/keys`
/// - `POST /admin/keys/{id}/credits` `{"amount"}`
struct AdminController: Sendable {
    let keys: any APIKeyAdministration

    struct CreateKey: Decodable {
        var name: String
        var credits: Int?
        var rpm: Int?
        var burst: Int?
        var maxInFlight: Int?
        var role: APIKeyRole?
        var models: [String]?

        enum CodingKeys: String, CodingKey {
            case name, credits, rpm, burst, role, models
            case maxInFlight = "max_in_flight"
        }
    }

    struct TopUp: Decodable {
        var amount: Int
    }

    struct KeyView: Encodable {
        var id: String
        var name: String
        var prefix: String
        var secret: String?
        var role: APIKeyRole
        var models: [String]?
        var credits: Int?
        var rpm: Int?
        var burst: Int?
        var maxInFlight: Int?
        var disabled: Bool
        var revoked: Bool
        var createdAt: String

        init(_ key: APIKey, secret: String? = nil) {
            id = key.id
            name = key.name
            prefix = key.prefix
            self.secret = secret
            role = key.role
            models = key.allowedModels
            credits = key.credits
            rpm = key.requestsPerMinute
            burst = key.burst
            maxInFlight = key.maxInFlight
            disabled = key.isDisabled
            revoked = key.isRevoked
            createdAt = key.createdAt.formatted(.iso8601)
        }

        enum CodingKeys: String, CodingKey {
            case id, name, prefix, secret, role, models, credits, rpm, burst, disabled, revoked
            case maxInFlight = "max_in_flight"
            case createdAt = "created_at"
        }
    }

    func addRoutes(to admin: RouterGroup<APIRequestContext>) {
        admin.post("keys", use: create)
        admin.get("keys", use: list)
        admin.post("keys/:id/credits", use: topUp)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await decode(CreateKey.self, from: request)
        if let credits = body.credits, credits < 0 {
            throw APIError.badRequest("Invalid 'credits': it must be 0 or more.")
        }
        let created = try await run {
            try await keys.create(
                APIKeySpec(
                    name: body.name, credits: body.credits, role: body.role ?? .user, allowedModels: body.models,
                    requestsPerMinute: body.rpm, burst: body.burst, maxInFlight: body.maxInFlight))
        }
        return .json(KeyView(created.key, secret: created.secret), status: .created)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(["keys": try await keys.list().map { KeyView($0) }])
    }

    @Sendable func topUp(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await decode(TopUp.self, from: request)
        let key = try await run { try await keys.topUp(id, amount: body.amount) }
        return .json(KeyView(key))
    }

    private func decode<Body: Decodable>(_ type: Body.Type, from request: Request) async throws -> Body {
        var request = request
        let bytes = try await request.collectJSONBody(upTo: 64 * 1024)
        do {
            // Refuses a repeated field, as the generation routes do.
            _ = try JSONValue(parsing: bytes.readableBytesView)
        } catch {
            throw APIError.badRequest(error.description)
        }
        do {
            return try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch {
            throw APIError.badRequest("The request body is not the expected JSON object.")
        }
    }

    /// Key-store errors as HTTP: unknown key 404, ambiguous name 409, bad values 400.
    private func run<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as APIKeyError {
            switch error {
            case .notFound: throw APIError.notFound(error.description)
            case .ambiguous: throw APIError(.conflict, error.description)
            case .invalidName, .invalidAmount, .invalidLimit: throw APIError.badRequest(error.description)
            }
        }
    }
}

/// Lets only `admin` keys through; must run after ``APIKeyMiddleware``.
struct AdminOnlyMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard try context.requireKey().role == .admin else {
            throw APIError(.forbidden, "This route needs an admin key.")
        }
        return try await next(request, context)
    }
}
