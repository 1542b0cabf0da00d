import NIOCore

/// Notes when the client closes its side of the connection (Hummingbird allows half-closure,
/// so a client's close arrives as `inputClosed`, not as the end of the channel), so that a
/// route waiting for a job can tell that nobody will read its answer. Everything passes
/// through unchanged.
final class ClientDepartureHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var departed: EventLoopPromise<Void>?

    /// Completes when the client has closed its side (or the connection is gone).
    /// Call on the channel's event loop.
    func departure(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        if let departed { return departed.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        departed = promise
        return promise.futureResult
    }

    func handlerAdded(context: ChannelHandlerContext) {
        _ = departure(on: context.eventLoop)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { departed?.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        departed?.succeed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        departed?.succeed()
    }
}

extension Channel {
    /// When the client closes its side of this connection; `nil` when the connection has
    /// no ``ClientDepartureHandler`` (the router test framework's).
    func clientDeparture() async -> EventLoopFuture<Void>? {
        let channel = self
        return try? await eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: ClientDepartureHandler.self)
            return handler.departure(on: channel.eventLoop)
        }.get()
    }
}
