import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Imaging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Engines

/// A fake of Google's `generateContent` endpoint on loopback, speaking its documented wire
/// format: it answers with scripted replies in order and records every request it got.
final class FakeGemini: Sendable {
    struct Reply: Sendable {
        var status: HTTPResponse.Status = .ok
        var headers: HTTPFields = [:]
        var body: String
        /// A pause before answering, to exercise client timeouts.
        var delay: Duration = .zero
        /// Holds the answer until ``releaseHanging()``: an upstream that is slower than
        /// anything the test waits for, to exercise cancellation.
        var hangs = false
    }

    struct Received: Sendable {
        var path: String
        var apiKey: String?
        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: bytes) as? [String: Any]) ?? [:] }
        var bytes: Data
    }

    private let replies: Mutex<[Reply]>
    let received = Mutex<[Received]>([])
    /// Tests waiting for a number of requests to have arrived.
    private let arrivals = Mutex<[(count: Int, continuation: CheckedContinuation<Void, Never>)]>([])
    /// Set by ``releaseHanging()``.
    private let hanging = Mutex<(released: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(_ replies: [Reply]) {
        self.replies = Mutex(replies)
    }

    var requests: [Received] { received.withLock { $0 } }

    /// Returns once `count` requests have arrived (a hand-off, not a timed wait).
    func waitForRequests(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let arrived = received.withLock { received in
                if received.count >= count { return true }
                arrivals.withLock { $0.append((count, continuation)) }
                return false
            }
            if arrived { continuation.resume() }
        }
    }

    /// Lets every hanging reply (and any later one) answer.
    func releaseHanging() {
        let waiters = hanging.withLock { state in
            state.released = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func record(_ request: Received) {
        let due: [CheckedContinuation<Void, Never>] = received.withLock { received in
            received.append(request)
            let total = received.count
            return arrivals.withLock { arrivals in
                let due = arrivals.filter { $0.count <= total }.map(\.continuation)
                arrivals.removeAll { $0.count <= total }
                return due
            }
        }
        for waiter in due { waiter.resume() }
    }

    private func hang() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let released = hanging.withLock { state in
                if !state.released { state.waiters.append(continuation) }
                return state.released
            }
            if released { continuation.resume() }
        }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("v1beta/models/:action") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024 * 1024)
            let reply = self.replies.withLock {
                $0.isEmpty ? Reply(status: .internalServerError, body: "{}") : $0.removeFirst()
            }
            self.record(
                Received(
                    path: request.uri.path, apiKey: request.headers[HTTPField.Name("x-goog-api-key")!],
                    bytes: Data(body.readableBytesView)))
            if reply.hangs { await self.hang() }
            if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
            var headers = reply.headers
            headers[.contentType] = "application/json"
            return Response(
                status: reply.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
        }
        return router
    }

    /// Runs `body` with an engine pointed at this fake.
    func run(
        maxAttempts: Int = 3, requestTimeout: Duration = .seconds(10),
        _ body: @Sendable (GeminiEngine) async throws -> Void
    ) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let pool = PreviewEngineTests.pool
            let engine = GeminiEngine(
                configuration: .init(
                    apiKey: "test-key-123", baseURL: "http://127.0.0.1:\(port)", maxAttempts: maxAttempts,
                    initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(5), requestTimeout: requestTimeout),
                client: HTTPClient.shared, threadPool: pool)
            try await body(engine)
        }
    }

    // MARK: - Replies in Google's format

    static func imageReply(_ bytes: [UInt8], mimeType: String, text: String? = "Here it is.") -> Reply {
        var parts: [[String: Any]] = [
            ["text": "thinking about it", "thought": true]
        ]
        if let text { parts.append(["text": text]) }
        parts.append(["inlineData": ["mimeType": mimeType, "data": Data(bytes).base64EncodedString()]])
        let body: [String: Any] = [
            "candidates": [["content": ["role": "model", "parts": parts], "finishReason": "STOP"]],
            "usageMetadata": ["promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302],
        ]
        return Reply(body: String(decoding: try! JSONSerialization.data(withJSONObject: body), as: UTF8.self))
    }

    static func errorReply(_ status: HTTPResponse.Status, message: String, headers: HTTPFields = [:]) -> Reply {
        Reply(
            status: status, headers: headers,
            body: #"{"error":{"code":\#(status.code),"message":"\#(message)","status":"X"}}"#)
    }
}

/// A real image to send back.
func sampleJPEG(width: Int = 96, height: Int = 64) throws -> [UInt8] {
    try ImageCodec.encodeJPEG(Canvas(width: width, height: height, fill: RGBA(r: 10, g: 120, b: 200)))
}
