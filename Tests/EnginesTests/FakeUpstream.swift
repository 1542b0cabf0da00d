import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// How the fake upstream answers one request.
struct FakeReply: Sendable {
    var status: HTTPResponseStatus = .ok
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    /// `false` sends the body chunked, without `Content-Length`.
    var declaresLength = true
    /// `true` never answers.
    var stalls = false
}

/// A real HTTP/1.1 server on 127.0.0.1 at an ephemeral port, answering from a routing closure.
final class FakeUpstream: Sendable {
    typealias Route = @Sendable (HTTPRequestHead) -> FakeReply

    let channel: any Channel
    private let connections: ConnectionCount

    var port: Int { channel.localAddress?.port ?? 0 }
    /// How many TCP connections the server has accepted.
    var acceptedConnections: Int { connections.value.withLock { $0 } }

    private init(channel: any Channel, connections: ConnectionCount) {
        self.channel = channel
        self.connections = connections
    }

    /// Starts a server, runs `body` with it and stops it.
    static func with<T>(route: @escaping Route, _ body: (FakeUpstream) async throws -> T) async throws -> T {
        let connections = ConnectionCount()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.value.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RouteHandler(route: route))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = FakeUpstream(channel: channel, connections: connections)
        do {
            let result = try await body(server)
            try await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    final class ConnectionCount: Sendable {
        let value = Mutex(0)
    }
}

/// Answers each request from the route once its head and body have arrived.
final class RouteHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let route: FakeUpstream.Route
    var head: HTTPRequestHead?

    init(route: @escaping FakeUpstream.Route) { self.route = route }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            respond(route(head), to: head, context: context)
        }
    }

    private func respond(_ reply: FakeReply, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard !reply.stalls else { return }
        var headers = HTTPHeaders(reply.headers)
        if reply.declaresLength {
            headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.count)")
        } else {
            headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
        }
        let responseHead = HTTPResponseHead(version: head.version, status: reply.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        var offset = 0
        while offset < reply.body.count {
            let end = min(offset + 1024, reply.body.count)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body[offset..<end])))), promise: nil)
            offset = end
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
