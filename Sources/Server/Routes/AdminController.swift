import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// The admin routes, for keys with the `admin` role (others get 403): the same key
/// operations as the CLI, over HTTP.
///
/// - `POST /admin/keys` `{"name", "credits"?, "rpm"?, "burst"?, "max_in_flight"?, "role"?, "models"?,
///   "webhook_url"?}`
/// - `GET /admin/keys`
/// - `GET /admin/keys/{id}?limit=&before=`: the key and a page of its credit ledger
/// - `POST /admin/keys/{id}/credits` `{"amount"}`
///
/// Store errors render themselves (``APIKeyError``: 404, 409 or 400).
struct AdminController: Sendable {
    let keys: any APIKeyAdministration

    struct CreateKey: StrictJSONBody {
        var name: String
        var credits: Int?
        var rpm: Int?
        var burst: Int?
        var maxInFlight: Int?
        var role: APIKeyRole?
        var models: [String]?
        var webhookURL: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, credits, rpm, burst, role, models
            case maxInFlight = "max_in_flight"
            case webhookURL = "webhook_url"
        }
    }

    struct TopUp: StrictJSONBody {
        var amount: Int

        enum CodingKeys: String, CodingKey, CaseIterable {
            case amount
        }
    }

    struct KeyView: Encodable {
        var id: String
        var name: String
        var prefix: String
        var secret: String?
        var role: APIKeyRole
        var models: [String]?
        /// Always present: `null` for an unmetered key.
        var credits: ExplicitNull<Int>
        var rpm: Int?
        var burst: Int?
        var maxInFlight: Int?
        var disabled: Bool
        var revoked: Bool
        var createdAt: String
        /// The key's active default webhook; always present, `null` when none.
        var webhookURL: ExplicitNull<String>

        init(_ key: APIKey, secret: String? = nil) {
            id = key.id
            name = key.name
            prefix = key.prefix
            self.secret = secret
            role = key.role
            models = key.allowedModels
            credits = ExplicitNull(key.credits)
            rpm = key.requestsPerMinute
            burst = key.burst
            maxInFlight = key.maxInFlight
            disabled = key.isDisabled
            revoked = key.isRevoked
            createdAt = key.createdAt.formatted(.iso8601)
            webhookURL = ExplicitNull(key.defaultWebhookTargets.last?.url)
        }

        enum CodingKeys: String, CodingKey {
            case id, name, prefix, secret, role, models, credits, rpm, burst, disabled, revoked
            case maxInFlight = "max_in_flight"
            case createdAt = "created_at"
            case webhookURL = "webhook_url"
        }
    }

    /// One line of a key's credit ledger.
    struct LedgerLineView: Encodable {
        var seq: Int64
        var kind: String
        var amount: Int
        var balanceAfter: Int
        var requestID: String?
        var createdAt: String

        init(_ entry: CreditLedgerEntry) {
            seq = entry.sequence
            kind = entry.kind.rawValue
            amount = entry.amount
            balanceAfter = entry.balanceAfter
            requestID = entry.requestID
            createdAt = entry.createdAt.formatted(.iso8601)
        }

        enum CodingKeys: String, CodingKey {
            case seq, kind, amount
            case balanceAfter = "balance_after"
            case requestID = "request_id"
            case createdAt = "created_at"
        }
    }

    /// A key and a page of its ledger, oldest line first; `before` asks for the next
    /// (older) page, `null` when there is none.
    struct KeyDetailView: Encodable {
        var key: KeyView
        var ledger: [LedgerLineView]
        var before: ExplicitNull<Int64>
    }

    /// Lines of the ledger a page holds unless `limit` says otherwise, and at most.
    static let ledgerPage = 20
    static let ledgerPageMaximum = 1000

    func addRoutes(to admin: RouterGroup<APIRequestContext>) {
        admin.post("keys", use: create)
        admin.get("keys", use: list)
        admin.get("keys/:id", use: show)
        admin.post("keys/:id/credits", use: topUp)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.decodeSmallJSON(CreateKey.self)
        let created = try await keys.create(
            APIKeySpec(
                name: body.name, credits: body.credits, role: body.role ?? .user, allowedModels: body.models,
                requestsPerMinute: body.rpm, burst: body.burst, maxInFlight: body.maxInFlight,
                webhookURL: body.webhookURL))
        return .json(KeyView(created.key, secret: created.secret), status: .created)
    }

    /// The key and the newest `limit` lines of its ledger (20 by default, at most 1000)
    /// before the line `before`; the answer's `before` asks for the page older than this
    /// one (`null`: none).
    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let query = request.uri.queryParameters
        let limit = try query["limit"].map { text -> Int in
            guard let value = Int(text), (1...Self.ledgerPageMaximum).contains(value) else {
                throw APIError.badRequest("Invalid 'limit' '\(text)': use 1 to \(Self.ledgerPageMaximum).")
            }
            return value
        }
        let before = try query["before"].map { text -> Int64 in
            guard let value = Int64(text), value > 0 else {
                throw APIError.badRequest("Invalid 'before' '\(text)': use the 'before' of a previous page.")
            }
            return value
        }
        let page = limit ?? Self.ledgerPage
        // One line more than the page tells whether an older page exists.
        let (key, lines) = try await keys.show(id, ledgerLimit: page + 1, before: before)
        let shown = lines.suffix(page)
        return .json(
            KeyDetailView(
                key: KeyView(key), ledger: shown.map(LedgerLineView.init),
                before: ExplicitNull(lines.count > page ? shown.first?.sequence : nil)))
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(["keys": try await keys.list().map { KeyView($0) }])
    }

    @Sendable func topUp(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await request.decodeSmallJSON(TopUp.self)
        let key = try await keys.topUp(id, amount: body.amount)
        return .json(KeyView(key))
    }
}

/// An optional that is encoded as `null` when absent, where a synthesized encoding would
/// leave its key out.
struct ExplicitNull<Wrapped: Encodable>: Encodable {
    let value: Wrapped?

    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
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
