import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import Testing

@testable import Server

/// Requests that are not valid HTTP, answered as every other error is: a status and
/// `{"error": …}`.
@Suite("HTTP errors")
struct HTTPErrorTests {
    @Test(
        "malformed HTTP is a JSON 400 naming the problem, and the connection is closed",
        arguments: [
            ("BREW /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", "method"),
            ("GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: zz\r\n\r\n", "Content-Length"),
            ("GET /healthz HTTP/9.1\r\nHost: localhost\r\n\r\n", "version"),
            ("GET /{100000 × a} HTTP/1.1\r\nHost: localhost\r\n\r\n", "too long"),
            ("GET /a b c HTTP/1.1\r\nHost: localhost\r\n\r\n", "request line"),
        ])
    func malformed(request: String, problem: String) async throws {
        try await TestServer.run(.live, configure: { $0.runsWorkers = false }) { _, client in
            let raw = try await RawClient.connect(port: try #require(client.port))
            try await raw.send(
                request.replacingOccurrences(of: "{100000 × a}", with: String(repeating: "a", count: 100_000)))
            let response = await raw.response()
            #expect(response.status == 400)
            #expect(response.headers["content-type"] == "application/json")
            let error = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body.utf8)).error
            #expect(error.contains(problem), "\(error)")
            #expect(await raw.closed(within: .seconds(10)))
        }
    }

    @Test("a path that is not UTF-8 is a JSON 400, never an empty answer")
    func nonUTF8Path() async throws {
        try await TestServer.run(.live, configure: { $0.runsWorkers = false }) { _, client in
            let raw = try await RawClient.connect(port: try #require(client.port))
            try await raw.send(
                Array("GET /".utf8) + [0xFF, 0xFE, 0xC3] + Array(" HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
            let response = await raw.response()
            #expect(response.status == 400)
            #expect(response.headers["content-type"] == "application/json")
            let error = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body.utf8)).error
            #expect(error.contains("path"))
        }
    }

    @Test("garbage after a good request gets the good request's answer, then a JSON 400")
    func pipelinedGarbage() async throws {
        try await TestServer.run(.live, configure: { $0.runsWorkers = false }) { _, client in
            let raw = try await RawClient.connect(port: try #require(client.port))
            try await raw.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nBREW / HTTP/1.1\r\n\r\n")
            #expect(await raw.closed(within: .seconds(10)))
            #expect(raw.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(raw.text.contains("HTTP/1.1 400 Bad Request\r\n"))
            #expect(raw.text.hasSuffix(#""}"#))
        }
    }

    @Test("a bad chunk size is a JSON 400, logged at debug and never as an error")
    func badChunkSize() async throws {
        let logs = LogRecorder()
        try await TestServer.run(.live, configure: { $0.runsWorkers = false }, logs: logs) { server, client in
            let raw = try await RawClient.connect(port: try #require(client.port))
            try await raw.sendSubmit(
                key: server.key, framing: "Transfer-Encoding: chunked", body: "zz\r\n{}\r\n0\r\n\r\n")
            let response = await raw.response()
            #expect(response.status == 400)
            #expect(response.body.contains("chunk size"))
            #expect(logs.logged.filter { $0.level >= .error }.map(\.message) == [])
        }
    }

    @Test("a client that closes in the middle of its upload is a debug line, not an error")
    func abortedUpload() async throws {
        let logs = LogRecorder()
        try await TestServer.run(.live, configure: { $0.runsWorkers = false }, logs: logs) { server, client in
            let raw = try await RawClient.connect(port: try #require(client.port))
            try await raw.sendSubmit(key: server.key, framing: "Content-Length: 1000", body: #"{"prompt":""#)
            await raw.close()
            #expect(await waitUntil(.seconds(10)) { logs.logged.contains { $0.message.contains("went away") } })
            #expect(logs.logged.filter { $0.level >= .error }.map(\.message) == [])
        }
    }
}
