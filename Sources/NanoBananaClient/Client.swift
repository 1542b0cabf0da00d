import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NanoBananaAPI

/// A client for the Nano Banana 2 API, with the semantics of the segmind Python SDK:
/// `run` submits to v2 and waits, `runSync` is the v1 call, `submitAsync` returns a job to
/// poll. Works against Segmind and against any server of ours.
public struct Client: Sendable {
    public let apiKey: String
    /// The v1 base, e.g. `https://api.segmind.com/v1` or `http://127.0.0.1:8080/v1`.
    public let baseURL: String
    let http: HTTPClient
    /// Per-request timeout.
    public var requestTimeout: Duration = .seconds(330)

    /// - Parameters:
    ///   - apiKey: defaults to the `SEGMIND_API_KEY` environment variable.
    ///   - baseURL: defaults to Segmind's.
    public init(
        apiKey: String? = nil, baseURL: String = "https://api.segmind.com/v1", httpClient: HTTPClient = .shared
    ) throws(ClientConfigurationError) {
        guard let key = apiKey ?? ProcessInfo.processInfo.environment["SEGMIND_API_KEY"], !key.isEmpty else {
            throw .missingAPIKey
        }
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        guard let url = URL(string: trimmed), url.host != nil else { throw .invalidBaseURL(baseURL) }
        self.apiKey = key
        self.baseURL = trimmed
        self.http = httpClient
    }

    /// The v2 base: the v1 base with its last `/vN` segment replaced by `/v2`.
    var v2BaseURL: String {
        guard let slash = baseURL.lastIndex(of: "/"), baseURL[baseURL.index(after: slash)...].hasPrefix("v") else {
            return baseURL + "/v2"
        }
        return String(baseURL[..<slash]) + "/v2"
    }

    // MARK: - The three ways to generate

    /// Submits to v2 and waits for the result; `webhook` also has it pushed.
    public func run(
        _ model: String, _ parameters: NanoBanana2Parameters, webhook: WebhookRequest? = nil,
        timeout: Duration = .seconds(600), interval: Duration = .seconds(1)
    ) async throws -> GenerationResult {
        try await submitAsync(model, parameters, webhook: webhook).wait(timeout: timeout, interval: interval)
    }

    /// The v1 call: blocks until the image is ready and returns its bytes; `webhook` also
    /// has the result pushed.
    public func runSync(
        _ model: String, _ parameters: NanoBanana2Parameters, webhook: WebhookRequest? = nil
    )
        async throws -> SyncResult
    {
        let (head, body) = try await send(
            .POST, url: "\(baseURL)/\(model)" + (webhook?.query ?? ""), json: try JSONEncoder().encode(parameters))
        return SyncResult(
            bytes: body, contentType: head.headers.first(name: "content-type") ?? "",
            requestID: head.headers.first(name: "x-request-id"),
            generationTime: head.headers.first(name: "x-generation-time").flatMap(Double.init),
            seed: head.headers.first(name: "x-seed-value").flatMap(Int64.init),
            cost: head.headers.first(name: "x-cost").flatMap(Int.init),
            remainingCredits: head.headers.first(name: "x-remaining-credits").flatMap(Int.init))
    }

    /// Submits to v2 and returns the job at once; `webhook` has its events pushed.
    public func submitAsync(
        _ model: String, _ parameters: NanoBanana2Parameters, webhook: WebhookRequest? = nil,
        idempotencyKey: String? = nil
    )
        async throws -> AsyncJob
    {
        try await submitAsync(
            model, json: try JSONEncoder().encode(parameters), webhook: webhook, idempotencyKey: idempotencyKey)
    }

    /// Submits any model's parameters as raw JSON (the escape hatch for other models). With
    /// an `idempotencyKey`, a retry of the same submit returns the first one's request
    /// instead of queueing (and charging) a second.
    public func submitAsync(
        _ model: String, json: Data, webhook: WebhookRequest? = nil, idempotencyKey: String? = nil
    ) async throws -> AsyncJob {
        let (_, body) = try await send(
            .POST, url: "\(v2BaseURL)/\(model)" + (webhook?.query ?? ""), json: json,
            headers: idempotencyKey.map { [("idempotency-key", $0)] } ?? [])
        let submitted = try JSONDecoder().decode(SubmitBody.self, from: Data(body))
        return AsyncJob(
            client: self, requestID: submitted.requestID, statusURL: submitted.statusURL,
            responseURL: submitted.responseURL)
    }

    /// A handle on an earlier request, to resume waiting after an ``InferenceTimeout``.
    public func job(requestID: String) -> AsyncJob {
        AsyncJob(
            client: self, requestID: requestID, statusURL: "\(v2BaseURL)/requests/\(requestID)/status",
            responseURL: "\(v2BaseURL)/requests/\(requestID)")
    }

    // MARK: - The same, for nano-banana-2

    /// ``run(_:_:webhook:timeout:interval:)`` for `nano-banana-2`.
    public func run(
        _ parameters: NanoBanana2Parameters, webhook: WebhookRequest? = nil, timeout: Duration = .seconds(600),
        interval: Duration = .seconds(1)
    ) async throws -> GenerationResult {
        try await run(
            NanoBanana2Parameters.modelSlug, parameters, webhook: webhook, timeout: timeout, interval: interval)
    }

    /// ``runSync(_:_:webhook:)`` for `nano-banana-2`.
    public func runSync(_ parameters: NanoBanana2Parameters, webhook: WebhookRequest? = nil) async throws -> SyncResult
    {
        try await runSync(NanoBanana2Parameters.modelSlug, parameters, webhook: webhook)
    }

    /// ``submitAsync(_:_:webhook:idempotencyKey:)`` for `nano-banana-2`.
    public func submitAsync(
        _ parameters: NanoBanana2Parameters, webhook: WebhookRequest? = nil, idempotencyKey: String? = nil
    ) async throws -> AsyncJob {
        try await submitAsync(
            NanoBanana2Parameters.modelSlug, parameters, webhook: webhook, idempotencyKey: idempotencyKey)
    }

    // MARK: - Webhooks

    /// A request's webhook events and their attempts.
    public func webhooks(requestID: String) async throws -> WebhookDeliveriesBody {
        let (_, body) = try await send(.GET, url: "\(v2BaseURL)/requests/\(requestID)/webhooks")
        return try JSONDecoder().decode(WebhookDeliveriesBody.self, from: Data(body))
    }

    /// Sends a finished request's final event again (same `webhook-id`).
    public func redeliverWebhook(requestID: String) async throws -> WebhookDeliveriesBody {
        let (_, body) = try await send(.POST, url: "\(v2BaseURL)/requests/\(requestID)/webhooks/redeliver")
        return try JSONDecoder().decode(WebhookDeliveriesBody.self, from: Data(body))
    }

    /// The key's webhook signing secret (`whsec_…`), for ``Webhook/verify(payload:headers:secret:)``.
    public func webhookSecret() async throws -> String {
        let (_, body) = try await send(.GET, url: "\(v2BaseURL)/webhooks/secret")
        return try JSONDecoder().decode([String: String].self, from: Data(body))["key"] ?? ""
    }

    // MARK: - HTTP

    /// Sends a request; non-2xx answers become ``APIError`` unless `tolerate` says the body
    /// is still meaningful (a FAILED status served as 422).
    func send(
        _ method: HTTPMethod, url: String, json: Data? = nil, authenticated: Bool = true,
        headers: [(String, String)] = [], tolerate: (Int, [UInt8]) -> Bool = { _, _ in false }
    ) async throws -> (head: HTTPClientResponse, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if authenticated { request.headers.add(name: "x-api-key", value: apiKey) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "user-agent", value: "nano-banana-swift")
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        let response = try await http.execute(request, timeout: .init(requestTimeout))
        let body = Array(try await response.body.collect(upTo: 256 * 1024 * 1024).readableBytesView)
        let status = Int(response.status.code)
        if (200..<300).contains(status) || tolerate(status, body) { return (response, body) }
        let detail = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))?.error
        throw APIError(
            status: status, detail: detail, retryAfter: response.headers.first(name: "retry-after").flatMap(Double.init)
        )
    }
}

/// What `runSync` returns: the image and the v1 response headers' facts.
public struct SyncResult: Sendable {
    public let bytes: [UInt8]
    public let contentType: String
    public let requestID: String?
    public let generationTime: Double?
    public let seed: Int64?
    public let cost: Int?
    public let remainingCredits: Int?
}
