import Engines
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NanoBananaAPI
import Store

/// Validates a request body and enqueues it as a job, waking a worker.
struct JobSubmitter: Sendable {
    let jobs: any JobStore
    let models: ModelCatalog
    let signal: WorkSignal
    let hub: CompletionHub
    let maxAttempts: Int
    let maxBodyBytes: Int
    /// Hosts the operator allows to be private (lowercased).
    let allowedFetchHosts: Set<AllowedHost>
    /// Credits by output resolution.
    let prices: [OutputResolution: Int]
    /// The server's default limits; a burst of 0 means a sixth of the rate.
    let limits: SubmitLimits
    /// Where the request's webhook events go (`?webhook=`, or the key's defaults).
    let webhooks: WebhookRequestTargets
    let metrics: JobInstruments
    /// How long finished jobs are kept: an idempotency key whose job is gone is fresh again.
    let retention: TimeInterval
    /// The server's own file links, which are read from the store rather than fetched.
    let ownLinks: OwnFileLinks

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// What a submission came to.
    struct Submission: Sendable {
        /// The new job, or (``replayed``) the idempotency key's earlier one as it is now.
        var job: JobRecord
        var replayed: Bool
        /// Whether the request carried an `Idempotency-Key`: its client can come back for it.
        var idempotent: Bool

        /// `idempotent-replayed: true` on a replay's answer.
        var headers: HTTPFields { replayed ? [.idempotentReplayed: "true"] : [:] }
    }

    /// Reads and validates the body for `model`, then enqueues it, with the request's id for
    /// the job's log lines, and logs it queued; with an `Idempotency-Key`, the key's earlier
    /// request may be replayed instead (nothing enqueued, nothing charged). With
    /// `expectingCompletion` (the v1 route) the hub tracks the job before it can possibly
    /// finish.
    func submit(
        model: String, request: Request, context: APIRequestContext, key: APIKey, expectingCompletion: Bool
    ) async throws -> Submission {
        guard let engine = models.engine(for: model) else {
            let known = models.slugs.joined(separator: ", ")
            throw APIError.notFound("Model '\(ErrorBody.echo(model))' not found. This server serves: \(known).")
        }
        if let allowed = key.allowedModels, !allowed.contains(model) {
            throw APIError(
                .forbidden,
                "This API key may not use model '\(model)'. It may use: \(allowed.joined(separator: ", ")).")
        }
        let idempotencyKey = try Self.idempotencyKey(of: request)
        var request = request
        let body = try await request.collectJSONBody(upTo: maxBodyBytes)
        let parameters: NanoBanana2Parameters
        do {
            parameters = try NanoBanana2Parameters.validated(fromJSON: body.readableBytesView)
        } catch {
            throw APIError.badRequest(error.description)
        }
        try refuseForbiddenLiterals(parameters.imageURLs)
        let targets = try await webhooks.targets(for: request, key: key)
        let id = UUID().uuidString.lowercased()
        let encoded = String(decoding: try Self.encoder.encode(parameters), as: UTF8.self)
        let route = expectingCompletion ? "v1" : "v2"
        let idempotency = idempotencyKey.map { value in
            IdempotentSubmit(
                key: value,
                fingerprint: Self.fingerprint(route: route, model: model, parameters: encoded, query: request),
                retention: retention)
        }
        let requestBody = try Self.encoder.encode(HistoryRequestBody.shortened(parameters))
        if expectingCompletion { hub.expect(id) }
        do {
            let enqueued = try await jobs.enqueue(
                NewJob(
                    id: id, keyID: key.id, model: model, parameters: encoded, seed: parameters.seed,
                    maxAttempts: maxAttempts, cost: prices[parameters.outputResolution] ?? 0,
                    metered: key.credits != nil, limits: limits(for: key),
                    httpRequestID: context.requestID.isEmpty ? nil : context.requestID, webhooks: targets,
                    requestBody: String(decoding: requestBody, as: UTF8.self)),
                idempotency: idempotency)
            let job = enqueued.job
            context.access.jobID = job.id
            guard !enqueued.replayed else {
                if expectingCompletion {
                    hub.forget(id)
                    hub.expect(job.id)
                }
                metrics.replayed(route: route)
                return Submission(job: job, replayed: true, idempotent: true)
            }
            // Logged before a worker is woken, so that its line comes first (a worker that
            // polls may still take the job sooner).
            context.logger.about(job).log(.queued, ["engine": .string(engine.name)])
            signal.signal()
            metrics.submitted(model: model, cost: job.cost, metered: key.credits != nil)
            return Submission(job: job, replayed: false, idempotent: idempotency != nil)
        } catch {
            if expectingCompletion { hub.forget(id) }
            if let shortfall = error as? InsufficientCredits {
                throw shortfall.forRequest(of: parameters.outputResolution)
            }
            throw error
        }
    }

    /// The request's `Idempotency-Key`, if it sent one; a 400 naming the header when it is
    /// not one (``IdempotencyKey``) or is sent twice.
    static func idempotencyKey(of request: Request) throws -> IdempotencyKey? {
        let values = request.headers[values: .idempotencyKey]
        guard let value = values.first else { return nil }
        guard values.count == 1 else { throw APIError.badRequest(InvalidIdempotencyKey.repeated.description) }
        do throws(InvalidIdempotencyKey) {
            return try IdempotencyKey(header: value)
        } catch {
            throw APIError.badRequest(error.description)
        }
    }

    /// What makes two submissions the same request (``IdempotentSubmit/fingerprint(of:)``):
    /// the route, the model, the validated parameters (defaults written out), and the query
    /// parameters that change the job: `webhook` and `webhook_events` (their set).
    static func fingerprint(route: String, model: String, parameters: String, query request: Request) -> String {
        let query = request.uri.queryParameters
        let events = query["webhook_events"].map { text in
            Set(text.split(separator: ",").map { $0.hasPrefix("request.") ? $0.dropFirst(8) : $0 }).sorted()
                .joined(separator: ",")
        }
        var parts = ["route": route, "model": model, "parameters": parameters]
        parts["webhook"] = query["webhook"].map(String.init)
        parts["webhook_events"] = events
        return IdempotentSubmit.fingerprint(of: parts)
    }

    /// References whose host is a literal private, loopback or reserved address are refused
    /// at submit (400): that much is known without resolving anything. Names are checked
    /// when the worker fetches them (a FAILED job). The server's own signed links are read
    /// from its store, wherever they point; an expired one is refused here.
    private func refuseForbiddenLiterals(_ urls: [String]) throws {
        for (index, string) in urls.enumerated() {
            guard case .remote(let url) = try? ReferenceImageSource(parsing: string), var host = url.host?.lowercased()
            else { continue }
            switch ownLinks.match(url) {
            case .valid: continue
            case .expired:
                throw APIError.badRequest(
                    ParameterError.invalidImageURL(
                        index: index, reason: "this server's link has expired, and its file with it."
                    ).description)
            case nil: break
            }
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
            guard !allowedFetchHosts.allows(host: host, port: port),
                let address = try? SocketAddress(ipAddress: host, port: 0),
                AddressPolicy.isForbidden(address)
            else { continue }
            throw APIError.badRequest(
                ParameterError.invalidImageURL(
                    index: index,
                    reason: "its host is a private, loopback or reserved address, which this server does not fetch."
                ).description)
        }
    }

    /// The key's own limits over the server's defaults; a burst of 0 is a sixth of the rate.
    private func limits(for key: APIKey) -> SubmitLimits {
        var effective = limits
        effective.perMinute = key.requestsPerMinute ?? limits.perMinute
        effective.burst = key.burst ?? (key.requestsPerMinute == nil ? limits.burst : 0)
        effective.maxInFlight = key.maxInFlight ?? limits.maxInFlight
        if effective.burst == 0 { effective.burst = max(1, effective.perMinute / 6) }
        return effective
    }
}
