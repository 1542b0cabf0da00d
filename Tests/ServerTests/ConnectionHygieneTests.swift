import Engines
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import Testing

@testable import Server

/// The HTTP server's timeouts and connection cap, against a real server on a loopback port
/// and raw clients that misbehave as slow or absent clients do.
@Suite("Connection hygiene")
struct ConnectionHygieneTests {
    @Test("headers sent a byte at a time are cut off at the header timeout, while /healthz keeps answering")
    func slowloris() async throws {
        try await TestServer.run(.live, configure: withoutWorkers { $0.headerTimeout = 0.3 }) { _, client in
            let slow = try await RawClient.connect(port: try #require(client.port))
            try await slow.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            // A header byte every 50 ms for at most 10 s, far past the timeout.
            for round in 0..<200 where !slow.isClosed {
                try? await slow.send("X")
                if round % 10 == 0 { #expect(try await client.get("/healthz", key: nil).status == .ok) }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(slow.isClosed)
            #expect(slow.bytes.isEmpty)
        }
    }

    @Test("a connection that sends nothing, or nothing after its response, is closed at the idle timeout")
    func idle() async throws {
        try await TestServer.run(.live, configure: withoutWorkers { $0.idleTimeout = 0.3 }) { _, client in
            let port = try #require(client.port)
            let silent = try await RawClient.connect(port: port)
            #expect(await silent.closed(within: .seconds(10)))

            let keptAlive = try await RawClient.connect(port: port)
            try await keptAlive.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await keptAlive.response().status == 200)
            #expect(await keptAlive.closed(within: .seconds(10)))
        }
    }

    @Test("a body that stops arriving is cut off at the body read timeout")
    func slowBody() async throws {
        try await TestServer.run(.live, configure: withoutWorkers { $0.bodyReadTimeout = 0.3 }) { server, client in
            let slow = try await RawClient.connect(port: try #require(client.port))
            try await slow.sendSubmit(key: server.key, framing: "Content-Length: 100", body: #"{"prompt":"#)
            #expect(await slow.closed(within: .seconds(10)))
        }
    }

    @Test("past the connection cap a connection is answered 503 in JSON and closed; below it all is served")
    func cap() async throws {
        try await TestServer.run(.live, configure: withoutWorkers { $0.maxConnections = 3 }) { server, client in
            let port = try #require(client.port)
            let connections = server.components.connections
            var held: [RawClient] = []
            while connections.current < 3 {
                let count = connections.current
                held.append(try await RawClient.connect(port: port))
                #expect(await waitUntil(.seconds(10)) { connections.current > count })
            }
            let refused = try await RawClient.connect(port: port)
            let response = await refused.response()
            #expect(response.status == 503)
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.headers["retry-after"] == "1")
            #expect(response.body.contains("limit of 3 open connections"))
            #expect(await refused.closed(within: .seconds(10)))

            await held.removeFirst().close()
            #expect(await waitUntil(.seconds(10)) { connections.current < 3 })
            let admitted = try await RawClient.connect(port: port)
            try await admitted.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await admitted.response().status == 200)
            for connection in held { await connection.close() }
        }
    }
}

/// A configuration without workers, its connection limits changed by `change`.
private func withoutWorkers(
    _ change: @escaping (inout ConnectionLimits) -> Void
) -> (inout ServerConfiguration) -> Void {
    { configuration in
        configuration.runsWorkers = false
        change(&configuration.connections)
    }
}
