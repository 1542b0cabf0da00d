import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client keeps it waiting past a timeout of
/// ``ConnectionDeadlines``: idle between requests, slow headers, a stalled body, a response
/// it does not read. Sits after the HTTP codec, so it sees requests and responses as parts;
/// `channelReadComplete` tells it of bytes that completed no part yet (a trickled head).
///
/// One timer at a time, for the earliest deadline; when events only push deadlines later,
/// the timer stays and, when it fires, sets itself for the new deadline.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeouts: ConnectionDeadlines.Timeouts
    private let logger: Logger
    private var deadlines: ConnectionDeadlines?
    /// Whether a part arrived since the last `channelReadComplete`.
    private var partsSinceReadComplete = false
    private var timer: (deadline: NIODeadline, task: Scheduled<Void>)?

    init(timeouts: ConnectionDeadlines.Timeouts, logger: Logger) {
        self.timeouts = timeouts
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard deadlines == nil else { return }
        deadlines = ConnectionDeadlines(timeouts: timeouts, now: .now())
        schedule(context)
    }

    // MARK: Events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        partsSinceReadComplete = true
        switch unwrapInboundIn(data) {
        case .head: deadlines?.headReceived(now: now)
        case .body: deadlines?.bodyReceived(now: now)
        case .end: deadlines?.endReceived(now: now)
        }
        schedule(context)
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !partsSinceReadComplete {
            deadlines?.bytesArrived(now: .now())
            schedule(context)
        }
        partsSinceReadComplete = false
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            deadlines?.responseEnded(now: .now())
            schedule(context)
        }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        deadlines?.writabilityChanged(isWritable: context.channel.isWritable, now: .now())
        schedule(context)
        context.fireChannelWritabilityChanged()
    }

    // MARK: The timer

    /// Sets the timer for the earliest deadline, unless one already fires no later.
    private func schedule(_ context: ChannelHandlerContext) {
        guard let next = deadlines?.next else {
            cancelTimer()
            return
        }
        if let timer, timer.deadline <= next.deadline { return }
        cancelTimer()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: next.deadline) { [self] in
            timer = nil
            expire(context)
        }
        timer = (next.deadline, task)
    }

    private func expire(_ context: ChannelHandlerContext) {
        guard let expiry = deadlines?.expired(now: .now()) else {
            schedule(context)
            return
        }
        logger.debug(
            "Closing a connection: \(expiry)",
            metadata: ["remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")"])
        deadlines = nil
        context.close(promise: nil)
    }

    private func cancelTimer() {
        timer?.task.cancel()
        timer = nil
    }
}
