import Foundation
import Hummingbird
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

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// Reads and validates the body for `model`, then enqueues it. With `expectingCompletion`
    /// the hub tracks the job before it can possibly finish.
    func submit(model: String, request: Request, key: APIKey, expectingCompletion: Bool) async throws -> JobRecord {
        guard models.engine(for: model) != nil else {
            let known = models.slugs.joined(separator: ", ")
            throw APIError.notFound("Model '\(model)' not found. This server serves: \(known).")
        }
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let parameters: NanoBanana2Parameters
        do {
            parameters = try NanoBanana2Parameters.validated(fromJSON: body.readableBytesView)
        } catch {
            throw APIError.badRequest(error.description)
        }
        let id = UUID().uuidString.lowercased()
        let encoded = String(decoding: try Self.encoder.encode(parameters), as: UTF8.self)
        if expectingCompletion { hub.expect(id) }
        do {
            let job = try await jobs.enqueue(
                NewJob(
                    id: id, keyID: key.id, model: model, parameters: encoded, seed: parameters.seed,
                    maxAttempts: maxAttempts))
            signal.signal()
            return job
        } catch {
            if expectingCompletion { hub.forget(id) }
            throw error
        }
    }
}
