import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import TestSupport
import Testing

@testable import Server

/// Requests that are not valid HTTP, and bodies the JSON routes refuse, answered as every
/// other error is: a status and `{"error": …}`.
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

    @Test("HEAD on the health routes answers as GET does, without a body", arguments: ["/healthz", "/readyz"])
    func head(path: String) async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { _, client in
            let response = try await client.execute(uri: path, method: .head)
            #expect(response.status == .ok)
            #expect(response.body.readableBytes == 0)
        }
    }

    @Test("a body declared as something else than JSON is 415; form-encoded and untyped bodies are read as JSON")
    func contentType() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            func submit(_ type: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.apiKey: server.key]
                headers[.contentType] = type
                return try await client.execute(
                    uri: "/v2/nano-banana-2", method: .post, headers: headers,
                    body: ByteBuffer(string: #"{"prompt":"x"}"#))
            }
            for type in ["text/plain", "multipart/form-data; boundary=x", "application/xml"] {
                let refused = try await submit(type)
                #expect(refused.status == .unsupportedMediaType)
                #expect(refused.errorMessage?.contains("application/json") == true)
            }
            for type in [
                nil, "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
            ] {
                #expect(try await submit(type).status == .ok, "\(type ?? "no type")")
            }
            let root = try await server.components.keys.create(name: "root")
            _ = try await server.components.keys.setAccess(root.key.id, role: .admin, allowedModels: nil, disabled: nil)
            let admin = try await client.execute(
                uri: "/admin/keys", method: .post, headers: [.apiKey: root.secret, .contentType: "text/plain"],
                body: ByteBuffer(string: #"{"name":"x"}"#))
            #expect(admin.status == .unsupportedMediaType)
        }
    }

    @Test(
        "a field sent twice is refused with 400 naming it",
        arguments: [#"{"prompt":"x","prompt":"forbidden"}"#, #"{"prompt":"x","seed":1,"\u0073eed":"two"}"#])
    func duplicateField(json: String) async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            for path in ["/v1/nano-banana-2", "/v2/nano-banana-2"] {
                let response = try await client.post(path, json: json, key: server.key)
                #expect(response.status == .badRequest)
                #expect(response.errorMessage?.contains("appears more than once") == true)
            }
        }
    }

    @Test("an unknown field's name is quoted back cut to 64 characters")
    func longUnknownField() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let name = String(repeating: "n", count: 100_000)
            let response = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","\#(name)":1}"#, key: server.key)
            #expect(response.status == .badRequest)
            let message = try #require(response.errorMessage)
            #expect(message.contains("'" + String(repeating: "n", count: 64) + "…'"))
            #expect(message.count < 400)
        }
    }

    @Test("a signed link has one spelling: upper-case hex, a signed or zero-padded expiry are 403")
    func canonicalLink() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
                .decoded(SubmitBody.self).requestID
            // A generous bound: a 1K preview render on a loaded machine took more than 30 s.
            let finished = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            #expect(finished?.status == .completed)
            let link = pathAndQuery(
                try await client.get("/v2/requests/\(id)", key: server.key).decoded(ResultBody.self).output)
            #expect(try await client.get(link, key: nil).status == .ok)
            let parts = try #require(URLComponents(string: link))
            let expires = try #require(parts.queryItems?.first { $0.name == "expires" }?.value)
            let signature = try #require(parts.queryItems?.first { $0.name == "signature" }?.value)
            let path = parts.path
            for variant in [
                "\(path)?expires=\(expires)&signature=\(signature.uppercased())",
                "\(path)?expires=%2B\(expires)&signature=\(signature)",
                "\(path)?expires=0\(expires)&signature=\(signature)",
            ] {
                let response = try await client.get(variant, key: nil)
                #expect(response.status == .forbidden, "\(variant)")
            }
        }
    }
}
