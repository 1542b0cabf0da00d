import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NanoBananaAPI
import NanoBananaClient
import Synchronization
import Testing

@Suite("Swift SDK polling")
struct PollingRetryTests {
    /// A fake of the status and result routes: the status answers 429 (then 503) before
    /// COMPLETED, as a busy gateway would.
    static func router(statusCalls: Counter) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("v2/requests/:id/status") { _, _ -> Response in
            let call = statusCalls.increment()
            switch call {
            case 1:
                return Response(
                    status: .tooManyRequests, headers: [.retryAfter: "0", .contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"Rate limited"}"#)))
            case 2:
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"busy"}"#)))
            default:
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(
                        byteBuffer: ByteBuffer(string: #"{"request_id":"r1","status":"COMPLETED","metrics":{}}"#)))
            }
        }
        router.get("v2/requests/:id") { _, _ -> Response in
            let body = ResultBody(
                requestID: "r1", output: "http://127.0.0.1:1/x.jpg", text: nil, engine: "fake", metrics: JobMetrics(),
                width: 1, height: 1, seed: 1, outputFormat: .jpg, createdAt: "t", completedAt: "t")
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: try JSONEncoder().encode(body))))
        }
        return router
    }

    @Test("429 and 503 while polling are retried within the deadline")
    func retriesWhilePolling() async throws {
        let calls = Counter()
        let app = Application(
            router: Self.router(statusCalls: calls), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let sdk = try Client(apiKey: "k", baseURL: "http://127.0.0.1:\(port)/v1")
            let result = try await sdk.job(requestID: "r1").wait(timeout: .seconds(120), interval: .milliseconds(20))
            #expect(result.body.requestID == "r1")
        }
        #expect(calls.value == 3)
    }

    @Test("cancelling the waiting task stops the wait")
    func cancellation() async throws {
        let calls = Counter()
        let app = Application(
            router: Self.router(statusCalls: calls), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let sdk = try Client(apiKey: "k", baseURL: "http://127.0.0.1:\(port)/v1")
            let waiting = Task {
                try await sdk.job(requestID: "r1").wait(timeout: .seconds(60), interval: .seconds(30))
            }
            waiting.cancel()
            await #expect(throws: (any Error).self) { try await waiting.value }
        }
    }
}

/// A count shared with a fake server's handlers.
final class Counter: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    func increment() -> Int {
        count.withLock { count in
            count += 1
            return count
        }
    }
}
