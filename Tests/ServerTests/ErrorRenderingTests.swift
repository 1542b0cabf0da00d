import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NanoBananaAPI
import Testing

@testable import Server
@testable import Store

/// The exact wire form of the errors that come from the store: status, `{"error": …}` body
/// and headers, byte for byte as clients have always seen them.
@Suite("Store errors on the wire")
struct ErrorRenderingTests {
    @Test("a key's rate limit is 429 with Retry-After and all four x-ratelimit headers")
    func rateLimited() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let created = try await server.components.keys.create(name: "limited")
            _ = try await server.components.keys.setLimits(
                created.key.id, requestsPerMinute: 6, burst: 1, maxInFlight: nil)
            #expect(
                try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret).status == .ok)
            let limited = try await client.post("/v1/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret)
            #expect(limited.status == .tooManyRequests)
            #expect(
                String(buffer: limited.body)
                    == #"{"error":"Rate limited: the requests per minute limit (6) is reached. Retry in 10 s."}"#)
            #expect(limited.headers[.contentType] == "application/json")
            #expect(limited.headers[.retryAfter] == "10")
            #expect(limited.headers[.rateLimitLimit] == "6")
            #expect(limited.headers[.rateLimitRemaining] == "0")
            #expect(limited.headers[.rateLimitReset] == "10")
            #expect(limited.headers[.rateLimitScope] == "requests per minute")
        }
    }

    @Test("a full queue is 429 naming the queue length, retry in 5 s")
    func queueFull() async throws {
        try await TestServer.run(configure: {
            $0.runsWorkers = false; $0.limits.maxQueueLength = 1
        }) { server, client in
            #expect(try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key).status == .ok)
            let limited = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            #expect(limited.status == .tooManyRequests)
            #expect(
                String(buffer: limited.body)
                    == #"{"error":"Rate limited: the queue length limit (1) is reached. Retry in 5 s."}"#)
            #expect(limited.headers[.retryAfter] == "5")
            #expect(limited.headers[.rateLimitLimit] == "1")
            #expect(limited.headers[.rateLimitReset] == "5")
            #expect(limited.headers[.rateLimitScope] == "queue length")
        }
    }

    @Test("a request the key cannot pay for is 406 naming the resolution, with x-remaining-credits")
    func insufficientCredits() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let metered = try await server.components.keys.create(name: "metered", credits: 70).secret
            for path in ["/v1/nano-banana-2", "/v2/nano-banana-2"] {
                let poor = try await client.post(path, json: #"{"prompt":"x","output_resolution":"2K"}"#, key: metered)
                #expect(poor.status == .notAcceptable)
                #expect(
                    String(buffer: poor.body)
                        == #"{"error":"Insufficient credits: this request (2K) costs 101 credits and the key has 70."}"#
                )
                #expect(poor.headers[.contentType] == "application/json")
                #expect(poor.headers[.remainingCredits] == "70")
            }
        }
    }

    @Test("an unreachable store is 503 with Retry-After: 2; any other error is a 500 naming the request id")
    func unavailableAndUnknown() async throws {
        struct Unexpected: Error {}
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(maxBodyBytes: 1024))
        router.get("unavailable") { _, _ -> Response in throw StoreUnavailable(reason: "connection refused") }
        router.get("unexpected") { _, _ -> Response in throw Unexpected() }
        try await Application(router: router).test(.router) { client in
            let unavailable = try await client.execute(uri: "/unavailable", method: .get)
            #expect(unavailable.status == .serviceUnavailable)
            #expect(
                String(buffer: unavailable.body)
                    == #"{"error":"Service temporarily unavailable: the job store cannot be reached. Retry in a few seconds."}"#
            )
            #expect(unavailable.headers[.retryAfter] == "2")
            #expect(unavailable.headers[.contentType] == "application/json")

            let unexpected = try await client.execute(uri: "/unexpected", method: .get)
            #expect(unexpected.status == .internalServerError)
            let message = try #require(unexpected.errorMessage)
            #expect(message.hasPrefix("Internal server error (request "))
            #expect(message.hasSuffix("). It has been logged."))
        }
    }
}

@Suite("Store errors render themselves")
struct StoreErrorRenderingTests {
    @Test("each store error thrown anywhere renders through the middleware with its status and headers")
    func rendered() async throws {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(maxBodyBytes: 1024))
        router.get("limited") { _, _ -> Response in
            throw RateLimited(limit: .inFlight, value: 3, retryAfter: 0.2)
        }
        router.get("poor") { _, _ -> Response in throw InsufficientCredits(price: 67, balance: 12) }
        router.get("poor-4k") { _, _ -> Response in
            throw InsufficientCredits(price: 151, balance: 12).forRequest(of: .fourK)
        }
        try await Application(router: router).test(.router) { client in
            let limited = try await client.execute(uri: "/limited", method: .get)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorMessage == "Rate limited: the requests in flight limit (3) is reached. Retry in 1 s.")
            #expect(limited.headers[.retryAfter] == "1")
            #expect(limited.headers[.rateLimitScope] == "requests in flight")

            let poor = try await client.execute(uri: "/poor", method: .get)
            #expect(poor.status == .notAcceptable)
            #expect(poor.errorMessage == "Insufficient credits: this request costs 67 credits and the key has 12.")
            #expect(poor.headers[.remainingCredits] == "12")

            let poor4K = try await client.execute(uri: "/poor-4k", method: .get)
            #expect(poor4K.status == .notAcceptable)
            #expect(
                poor4K.errorMessage == "Insufficient credits: this request (4K) costs 151 credits and the key has 12.")
        }
    }
}
