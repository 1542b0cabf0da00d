import Engines
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import TestSupport
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

            let keptAlive = try await RawClient.connect(
                port: port, greeting: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await keptAlive.response().status == 200)
            #expect(await keptAlive.closed(within: .seconds(10)))
        }
    }

    @Test("a body that stops arriving is cut off at the body read timeout, logged at debug, not as an error")
    func slowBody() async throws {
        let logs = LogRecorder()
        try await TestServer.run(
            .live,
            configure: withoutWorkers { $0.bodyReadTimeout = 0.3 }, logs: logs
        ) { server, client in
            let slow = try await RawClient.connect(port: try #require(client.port))
            try await slow.sendSubmit(key: server.key, framing: "Content-Length: 100", body: #"{"prompt":"#)
            #expect(await slow.closed(within: .seconds(10)))
            #expect(await waitUntil(.seconds(10)) { logs.logged.contains { $0.message.contains("went away") } })
            #expect(logs.logged.filter { $0.level >= .error }.map(\.message) == [])
        }
    }

    @Test("a client that stops reading its image is closed at the write timeout; the server stops sending")
    func nonReadingClients() async throws {
        let size = 8 * 1024 * 1024
        try await TestServer.run(
            .live, configure: { $0.connections.writeTimeout = 0.5 }, engine: BulkyEngine(size: size)
        ) { server, client in
            let port = try #require(client.port)
            let id = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
                .decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let link = pathAndQuery(
                try await client.get("/v2/requests/\(id)", key: server.key).decoded(ResultBody.self).output)

            let connections = server.components.connections
            let (open, opened) = (connections.current, connections.opened)
            var stalled: [RawClient] = []
            for _ in 0..<3 {
                stalled.append(
                    try await RawClient.connect(
                        port: port, reading: false, greeting: "GET \(link) HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            }
            // None reads: each is closed once its buffer has stayed full for the write timeout.
            #expect(await waitUntil(.seconds(30)) { connections.opened == opened + 3 && connections.current == open })
            for stalledClient in stalled {
                try await stalledClient.startReading()
                #expect(await stalledClient.closed(within: .seconds(30)))
                #expect(stalledClient.bytes.count < size)
            }
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

    @Test("responses that send one image share one copy, loaded once, released when they are done")
    func sharedImage() async throws {
        let served = ServedImages()
        let loads = Locked(0)
        var first = try await served.image(key: "a.png") {
            loads.withLock { $0 += 1 }
            return [UInt8](repeating: 7, count: 1000)
        }
        var second = try await served.image(key: "a.png") {
            loads.withLock { $0 += 1 }
            return [1]
        }
        #expect(first != nil && first === second)
        #expect(loads.withLock { $0 } == 1)
        #expect(served.count == 1)
        first = nil
        second = nil
        #expect(served.count == 0)
    }

    @Test("a request for an image another request is loading waits for that load instead of reading it again")
    func coalescedLoad() async throws {
        let served = ServedImages()
        let loads = Locked(0)
        let (gate, open) = AsyncStream<Void>.makeStream()
        async let first = served.image(key: "b.png") {
            loads.withLock { $0 += 1 }
            for await _ in gate { break }
            return [1, 2, 3]
        }
        #expect(await yieldUntil { loads.withLock { $0 } == 1 })
        async let second = served.image(key: "b.png") {
            loads.withLock { $0 += 1 }
            return [9]
        }
        #expect(await yieldUntil { served.waiting == 1 })
        open.yield()
        open.finish()
        let (one, other) = try await (first, second)
        #expect(one != nil && one === other)
        #expect(loads.withLock { $0 } == 1)
    }

    @Test("an image body is written in 64 KiB slices, each once the last was taken")
    func slices() async throws {
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        let writer = CollectingWriter()
        try await ResponseBody.inSlices(ServedImages.Image(ByteBuffer(bytes: bytes))).write(writer)
        let writes = writer.writes.withLock { $0 }
        #expect(writes.map(\.readableBytes) == [65536, 65536, 65536, 3392])
        #expect(writes.flatMap { Array($0.readableBytesView) } == bytes)
        #expect(writer.finished.withLock { $0 })
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

/// A response body writer that keeps each buffer it is given (in references: the body
/// writes through copies of it).
private struct CollectingWriter: ResponseBodyWriter {
    let writes = Locked<[ByteBuffer]>([])
    let finished = Locked(false)

    mutating func write(_ buffer: ByteBuffer) async throws { writes.withLock { $0.append(buffer) } }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws { finished.withLock { $0 = true } }
}

/// An engine whose every image is `size` bytes: a large result without the time to render one.
private struct BulkyEngine: ImageEngine {
    let name = "bulky"
    let size: Int

    func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        GeneratedImage(
            bytes: [0xFF, 0xD8] + [UInt8](repeating: 0x55, count: size - 4) + [0xFF, 0xD9], format: .jpg, width: 1,
            height: 1, text: nil)
    }
}
