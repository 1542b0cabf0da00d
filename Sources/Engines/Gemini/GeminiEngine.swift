import AsyncHTTPClient
import Foundation
import Imaging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import NanoBananaAPI

/// The real Nano Banana 2: Google's Gemini image model over its REST API
/// (`POST {base}/v1beta/models/{model}:generateContent`).
///
/// Every parameter is mapped (see `GeminiRequest+Parameters.swift`); the reply's last image
/// is sniffed and transcoded to the requested format when it differs; blocks become
/// ``EngineFailure/contentBlocked(_:)``; 429, 5xx and connection failures are retried with
/// jittered exponential backoff that honours `Retry-After`.
///
/// Cancelling the task that calls ``generate(_:)`` cancels the upstream call in flight (or
/// the backoff sleep, or a reference download) and throws `CancellationError`, never an
/// ``EngineFailure``.
public struct GeminiEngine: ImageEngine {
    public struct Configuration: Sendable {
        /// The `x-goog-api-key`. Never logged.
        public var apiKey: String
        /// Default `https://generativelanguage.googleapis.com`; a proxy or a fake in tests.
        public var baseURL: String
        /// The upstream model id.
        public var model: String
        /// Requests in flight upstream at once, for this engine.
        public var maxConcurrentRequests: Int
        /// Tries per job, the first included.
        public var maxAttempts: Int
        /// The first retry's delay; each next one doubles, with jitter, up to `maxBackoff`.
        public var initialBackoff: Duration
        public var maxBackoff: Duration
        /// One upstream call's timeout.
        public var requestTimeout: Duration
        public var jpegQuality: Int

        public init(
            apiKey: String, baseURL: String = "https://generativelanguage.googleapis.com",
            model: String = "gemini-3.1-flash-image-preview", maxConcurrentRequests: Int = 8, maxAttempts: Int = 5,
            initialBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(20),
            requestTimeout: Duration = .seconds(300), jpegQuality: Int = 92
        ) {
            self.apiKey = apiKey
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.model = model
            self.maxConcurrentRequests = maxConcurrentRequests
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.requestTimeout = requestTimeout
            self.jpegQuality = jpegQuality
        }
    }

    public let name = "gemini"
    let configuration: Configuration
    private let client: HTTPClient
    private let threadPool: NIOThreadPool
    /// Internal for tests, which watch its slots.
    let limiter: AsyncLimiter
    private let references: ReferenceImages
    private let upstream: UpstreamMetrics
    /// Largest reply accepted (a 4K PNG in base64 is well under this).
    static let maxReplyBytes = 128 * 1024 * 1024

    /// - Parameters:
    ///   - client: owned by the caller, who shuts it down.
    ///   - threadPool: where transcoding runs.
    ///   - references: loads `image_urls`, fetching http(s) ones when it has a fetcher.
    ///   - metrics: where each upstream call is counted (``UpstreamMetrics``).
    public init(
        configuration: Configuration, client: HTTPClient, threadPool: NIOThreadPool,
        references: ReferenceImages = ReferenceImages(fetcher: nil),
        metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.configuration = configuration
        self.upstream = UpstreamMetrics(engine: "gemini", model: configuration.model, factory: metrics)
        self.references = references
        self.client = client
        self.threadPool = threadPool
        self.limiter = AsyncLimiter(limit: configuration.maxConcurrentRequests)
    }

    var endpoint: String { "\(configuration.baseURL)/v1beta/models/\(configuration.model):generateContent" }

    public func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        let parameters = request.parameters
        let body = try JSONEncoder().encode(
            GeminiRequest(parameters: parameters, references: try await fittingReferences(parameters.imageURLs)))
        let (reply, retries) = try await call(body: body)
        let decoded: GeminiResponse
        do {
            decoded = try JSONDecoder().decode(GeminiResponse.self, from: Data(reply))
        } catch {
            throw EngineFailure.upstreamInvalidResponse("the reply was not the expected JSON.")
        }
        let picked = try GeminiReply(decoded)
        let format = parameters.outputFormat
        let quality = configuration.jpegQuality
        var image = try await threadPool.runIfActive {
            try picked.image(as: format, jpegQuality: quality)
        }
        image.usage = UpstreamUsage(
            retries: retries, promptTokens: decoded.usageMetadata?.promptTokenCount,
            outputTokens: decoded.usageMetadata?.candidatesTokenCount,
            totalTokens: decoded.usageMetadata?.totalTokenCount)
        return image
    }

    /// The most bytes one inline image may have upstream.
    static let maxInlineBytes = ReferenceImageSource.maxInlineBytes

    /// The references, each made to fit the upstream's 7 MB limit: a larger JPEG or PNG
    /// (a fetched one may have up to 10 MB) is re-encoded as JPEG, scaled down if need be;
    /// a larger WebP, which this server cannot decode, is refused clearly.
    func fittingReferences(_ urls: [String]) async throws -> [(mediaType: String, bytes: [UInt8])] {
        let loaded = try await references.load(urls)
        guard loaded.contains(where: { $0.bytes.count > Self.maxInlineBytes }) else { return loaded }
        return try await threadPool.runIfActive {
            try loaded.enumerated().map { index, reference in
                guard reference.bytes.count > Self.maxInlineBytes else { return reference }
                return ("image/jpeg", try Self.shrink(reference.bytes, index: index))
            }
        }
    }

    static func shrink(_ bytes: [UInt8], index: Int) throws -> [UInt8] {
        let tooLarge = "it is larger than the model's \(maxInlineBytes / (1024 * 1024)) MB limit"
        guard ImageFormat.sniff(bytes) != .webp, var canvas = try? ImageCodec.decode(bytes) else {
            throw EngineFailure.invalidReference(index: index, reason: "\(tooLarge) and could not be re-encoded.")
        }
        for _ in 0..<6 {
            let encoded = try ImageCodec.encodeJPEG(canvas, quality: 85)
            if encoded.count <= maxInlineBytes { return encoded }
            canvas = canvas.scaled(width: max(1, canvas.width * 3 / 4), height: max(1, canvas.height * 3 / 4))
        }
        throw EngineFailure.invalidReference(index: index, reason: "\(tooLarge) even after re-encoding.")
    }

    // MARK: - The upstream call, with retries

    /// POSTs `body`, retrying transient failures; returns the 200 body and the retries.
    /// Throws `CancellationError` as soon as its task is cancelled, between attempts too.
    func call(body: Data) async throws -> (body: [UInt8], retries: Int) {
        var lastProblem = "no attempt was made"
        for attempt in 1...configuration.maxAttempts {
            try Task.checkCancellation()
            let outcome = try await attemptOnce(body: body)
            switch outcome {
            case .success(let bytes):
                return (bytes, attempt - 1)
            case .failure(let failure):
                throw failure
            case .transient(let problem, let retryAfter):
                lastProblem = problem
                guard attempt < configuration.maxAttempts else { break }
                // Throws CancellationError when cancelled mid-sleep: no further attempt.
                try await Task.sleep(for: retryAfter ?? backoff(afterAttempt: attempt))
            }
        }
        throw EngineFailure.upstreamUnavailable("\(lastProblem) (after \(configuration.maxAttempts) attempts).")
    }

    enum Attempt: Sendable {
        case success([UInt8])
        case failure(EngineFailure)
        case transient(String, retryAfter: Duration?)
    }

    /// One upstream call. Throws only `CancellationError`: every other failure is an
    /// ``Attempt``.
    private func attemptOnce(body: Data) async throws -> Attempt {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "x-goog-api-key", value: configuration.apiKey)
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await limiter.run {
                let start = ContinuousClock.now
                let response: HTTPClientResponse
                do {
                    response = try await client.execute(request, timeout: .init(configuration.requestTimeout))
                } catch {
                    if !(error is CancellationError || Task.isCancelled) {
                        upstream.record(status: UpstreamMetrics.connectionFailed, duration: .now - start)
                    }
                    throw error
                }
                // Timed to the answer's head: the model has done its work by then.
                upstream.record(status: String(response.status.code), duration: .now - start)
                let bytes = try await response.body.collect(upTo: Self.maxReplyBytes)
                return (response.status, response.headers, Array(bytes.readableBytesView))
            }
            return Self.classify(status: response.0, headers: response.1, body: response.2)
        } catch {
            // A cancelled task surfaces as CancellationError from the limiter, or as the HTTP
            // client's own error (`HTTPClientError.cancelled`, a closed connection): whatever
            // was thrown once the task is cancelled is the cancellation, not an outage.
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            return .transient("the connection failed (\(type(of: error)))", retryAfter: nil)
        }
    }

    /// What an upstream answer means for the job.
    static func classify(status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) -> Attempt {
        if status == .ok { return .success(body) }
        let message =
            (try? JSONDecoder().decode(GeminiErrorBody.self, from: Data(body)))?.error.message
            ?? "HTTP \(status.code)"
        switch status.code {
        case 429, 500, 502, 503, 504:
            return .transient("HTTP \(status.code): \(message)", retryAfter: retryAfter(headers))
        case 401, 403:
            return .failure(.upstreamUnauthorized)
        default:
            return .failure(.upstreamRejected(message))
        }
    }

    /// `Retry-After` in seconds (the HTTP-date form is rare upstream and ignored), capped.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let value = headers.first(name: "retry-after"), let seconds = Double(value), seconds >= 0 else {
            return nil
        }
        return .milliseconds(Int64(min(seconds, 120) * 1000))
    }

    /// Full-jitter exponential backoff.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(configuration.maxBackoff, configuration.initialBackoff * (1 << min(attempt - 1, 20)))
        let fraction = Double.random(in: 0.5...1.0)
        return ceiling * fraction
    }
}
