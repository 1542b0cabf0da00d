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
    /// The server's own file links, which are read from the store rather than fetched.
    let ownLinks: OwnFileLinks

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// Reads and validates the body for `model`, then enqueues it, with the request's id for
    /// the job's log lines, and logs it queued. With `expectingCompletion` the hub tracks the
    /// job before it can possibly finish.
    func submit(
        model: String, request: Request, context: APIRequestContext, key: APIKey, expectingCompletion: Bool
    ) async throws -> JobRecord {
        guard let engine = models.engine(for: model) else {
            let known = models.slugs.joined(separator: ", ")
            throw APIError.notFound("Model '\(ErrorBody.echo(model))' not found. This server serves: \(known).")
        }
        if let allowed = key.allowedModels, !allowed.contains(model) {
            throw APIError(
                .forbidden,
                "This API key may not use model '\(model)'. It may use: \(allowed.joined(separator: ", ")).")
        }
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
        let requestBody = try Self.encoder.encode(HistoryRequestBody.shortened(parameters))
        if expectingCompletion { hub.expect(id) }
        do {
            let job = try await jobs.enqueue(
                NewJob(
                    id: id, keyID: key.id, model: model, parameters: encoded, seed: parameters.seed,
                    maxAttempts: maxAttempts, cost: prices[parameters.outputResolution] ?? 0,
                    metered: key.credits != nil, limits: limits(for: key),
                    httpRequestID: context.requestID.isEmpty ? nil : context.requestID, webhooks: targets,
                    requestBody: String(decoding: requestBody, as: UTF8.self)))
            // Logged before a worker is woken, so that its line comes first (a worker that
            // polls may still take the job sooner).
            context.logger.about(job).log(.queued, ["engine": .string(engine.name)])
            context.access.jobID = job.id
            signal.signal()
            metrics.submitted(model: model, cost: job.cost, metered: key.credits != nil)
            return job
        } catch {
            if expectingCompletion { hub.forget(id) }
            if let shortfall = error as? InsufficientCredits {
                throw shortfall.forRequest(of: parameters.outputResolution)
            }
            throw error
        }
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
