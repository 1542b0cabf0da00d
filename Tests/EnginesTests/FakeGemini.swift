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
    }

    struct Received: Sendable {
        var path: String
        var apiKey: String?
        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: bytes) as? [String: Any]) ?? [:] }
        var bytes: Data
    }

    private let replies: Mutex<[Reply]>
    let received = Mutex<[Received]>([])

    init(_ replies: [Reply]) {
        self.replies = Mutex(replies)
    }

    var requests: [Received] { received.withLock { $0 } }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("v1beta/models/:action") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024 * 1024)
            self.received.withLock {
                $0.append(
                    Received(
                        path: request.uri.path, apiKey: request.headers[HTTPField.Name("x-goog-api-key")!],
                        bytes: Data(body.readableBytesView)))
            }
            let reply = self.replies.withLock {
                $0.isEmpty ? Reply(status: .internalServerError, body: "{}") : $0.removeFirst()
            }
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
