import Logging
import NIOCore
import NIOHTTPTypes

/// Answers a request that is not valid HTTP (a framing error, an unknown method, a path
/// the parser refuses) with a JSON 400 and closes the connection, where Hummingbird would
/// answer with an empty body or not at all.
///
/// It answers when the error comes before a request's head reached the routes, once every
/// response owed on the connection has been written (a pipelined request may come after a
/// good one). An error inside a body the routes are reading (a bad chunk size) goes on to
/// them, and ``JSONErrorMiddleware`` answers it; so do errors that only mean the client
/// went away.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let logger: Logger
    /// A head went up and its end has not.
    private var readingBody = false
    /// Heads that went up whose response has not ended.
    private var owed = 0
    /// The 400's sentence, once a request was found malformed; sent when nothing is owed.
    private var refusal: String?

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refusal == nil else { return }
        switch unwrapInboundIn(data) {
        case .head:
            owed += 1
            readingBody = true
        case .body: break
        case .end: readingBody = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        owed = max(0, owed - 1)
        if owed == 0, let refusal { context.answerAndClose(.badRequest, refusal) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard refusal == nil else { return }
        guard !readingBody, !MalformedRequest.isClientAbort(error), let sentence = MalformedRequest.sentence(for: error)
        else {
            context.fireErrorCaught(error)
            return
        }
        logger.debug("Malformed request", metadata: ["error": "\(error)"])
        refusal = sentence
        if owed == 0 { context.answerAndClose(.badRequest, sentence) }
    }
}
