import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The server's open connections, counted against ``limit``; one is shared by every
/// connection's ``ConnectionCapHandler``.
final class ConnectionCount: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)
    private let total = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection; `false` when it is one too many (it is counted all the
    /// same, until ``release()``).
    func admit() -> Bool {
        total.wrappingAdd(1, ordering: .relaxed)
        return open.wrappingAdd(1, ordering: .relaxed).newValue <= limit
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Connections open now.
    var current: Int { open.load(ordering: .relaxed) }
    /// Connections accepted since the server started, refused ones too.
    var opened: Int { total.load(ordering: .relaxed) }
}

/// Admits a connection while fewer than the cap are open; past it, answers 503 with a JSON
/// error at once and closes, without reading a request: an excess client learns at once,
/// and the server never reaches its open-file limit (where accepting would fail for
/// everyone).
final class ConnectionCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let count: ConnectionCount
    private let logger: Logger
    private var counted = false
    private var admitted = true
    private var refused = false

    init(count: ConnectionCount, logger: Logger) {
        self.count = count
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        admitted = count.admit()
        // Once the pipeline is set up, so that the refusal goes through the HTTP encoder.
        if !admitted && context.channel.isActive {
            context.eventLoop.assumeIsolated().execute { [self] in refuse(context) }
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if !admitted { refuse(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted { count.release() }
        counted = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused connection's request goes nowhere.
        if admitted { context.fireChannelRead(data) }
    }

    private func refuse(_ context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        logger.debug("Refusing a connection: \(count.limit) are open")
        context.answerAndClose(
            .serviceUnavailable,
            "The server has reached its limit of \(count.limit) open connections. Retry in a moment.",
            headers: [.retryAfter: "1"])
    }
}
