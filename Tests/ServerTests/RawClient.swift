import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP client on loopback that sends bytes as they are and collects what comes back: for
/// what an HTTP client library will not send (malformed requests, headers a byte at a
/// time) or will not do (leave a response unread).
final class RawClient: Sendable {
    private let channel: any Channel
    private let received: Received

    /// What the connection received, and whether it is closed.
    private final class Received: Sendable {
        private let state = Mutex((bytes: [UInt8](), closed: false))

        func append(_ buffer: ByteBuffer) { state.withLock { $0.bytes += buffer.readableBytesView } }
        func close() { state.withLock { $0.closed = true } }
        var bytes: [UInt8] { state.withLock { $0.bytes } }
        var closed: Bool { state.withLock { $0.closed } }
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let received: Received
        let greeting: [UInt8]

        init(_ received: Received, greeting: [UInt8]) {
            self.received = received
            self.greeting = greeting
        }

        func channelActive(context: ChannelHandlerContext) {
            if !greeting.isEmpty { context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: greeting)), promise: nil) }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received.append(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            received.close()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, received: Received) {
        self.channel = channel
        self.received = received
    }

    /// Connects to `127.0.0.1:port` and sends `greeting` as soon as it is connected (no
    /// gap in which a short timeout could run out). A client that is not `reading` leaves
    /// what the server sends in a small receive buffer (4 KiB) and reads none of it.
    static func connect(port: Int, reading: Bool = true, greeting: String = "") async throws -> RawClient {
        let received = Received()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: reading)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(received, greeting: Array(greeting.utf8)))
                }
            }
        if !reading { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: 4096) }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, received: received)
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// Sends the head of a v2 submit with `key`, its `framing` header (`Content-Length: …` or
    /// `Transfer-Encoding: chunked`), and `body`: all of it, or only its start.
    func sendSubmit(key: String, framing: String, body: String) async throws {
        try await send(
            "POST /v2/nano-banana-2 HTTP/1.1\r\nHost: localhost\r\nx-api-key: \(key)\r\n"
                + "Content-Type: application/json\r\n\(framing)\r\n\r\n\(body)")
    }

    /// Starts reading what the server sent (for a client connected not `reading`).
    func startReading() async throws {
        try await channel.setOption(.autoRead, value: true).get()
    }

    func close() async {
        try? await channel.close().get()
    }

    var bytes: [UInt8] { received.bytes }
    var text: String { String(decoding: received.bytes, as: UTF8.self) }
    /// Whether the connection is closed (for a reading client: the server closed it).
    var isClosed: Bool { received.closed }

    /// Waits, at most `timeout`, until the server has closed the connection.
    func closed(within timeout: Duration) async -> Bool {
        await waitUntil(timeout) { self.isClosed }
    }

    /// Waits, at most `timeout`, for a whole response (its head and its `Content-Length`
    /// of body) or the end of the connection; returns what arrived.
    func response(within timeout: Duration = .seconds(30)) async -> RawResponse {
        _ = await waitUntil(timeout) { self.isClosed || RawResponse(self.bytes)?.isComplete == true }
        return RawResponse(bytes) ?? RawResponse(status: 0, headers: [:], body: "")
    }
}

/// An HTTP/1.1 response as it came over the wire.
struct RawResponse {
    var status: Int
    /// Lower-cased names.
    var headers: [String: String]
    var body: String
    var isComplete = true

    init(status: Int, headers: [String: String], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
            let status = Int(statusLine.dropFirst(9).prefix(3))
        else { return nil }
        self.status = status
        headers = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        body = String(text[end.upperBound...])
        isComplete = body.utf8.count >= Int(headers["content-length"] ?? "0") ?? 0
    }
}

/// Checks `condition` every 20 ms until it holds or `timeout` passes: for what happens on
/// the server's own time (a timeout closing a connection). Returns whether it held.
func waitUntil(_ timeout: Duration, _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
