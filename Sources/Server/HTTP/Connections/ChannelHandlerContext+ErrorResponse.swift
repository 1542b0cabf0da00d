import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import NanoBananaAPI

extension ChannelHandlerContext {
    /// Writes a whole JSON error response, `{"error": message}` with `Connection: close`,
    /// and closes the connection once it is sent: for the handlers after the HTTP codec
    /// (their outbound parts are `HTTPResponsePart`s) that answer before or instead of the
    /// routes.
    func answerAndClose(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        let body = ByteBuffer(bytes: (try? JSONEncoder().encode(ErrorBody(error: message))) ?? Data())
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        write(NIOAny(HTTPResponsePart.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        write(NIOAny(HTTPResponsePart.body(body)), promise: nil)
        let context = self
        writeAndFlush(NIOAny(HTTPResponsePart.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
