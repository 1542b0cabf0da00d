import NIOCore

/// Notes when the client closes its side of the connection (Hummingbird allows half-closure,
/// so a client's close arrives as `inputClosed`, not as the end of the channel), so that a
/// route waiting for a job can tell that nobody will read its answer. Everything passes
/// through unchanged.
final class ClientDepartureHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// Made only when a route asks (a v1 wait), not for every connection.
    private var departure: EventLoopPromise<Void>?
    private var hasDeparted = false

    /// Completes when the client has closed its side (or the connection is gone).
    /// Call on the channel's event loop.
    func departure(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        if hasDeparted { return eventLoop.makeSucceededVoidFuture() }
        if let departure { return departure.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        departure = promise
        return promise.futureResult
    }

    private func depart() {
        hasDeparted = true
        departure?.succeed()
        departure = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { depart() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        depart()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        depart()
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
