import HummingbirdCore
import Logging
import NIOCore

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1.1 server with this server's connection hygiene: the cap on
    /// open connections, JSON 400s for malformed requests, the timeouts of
    /// ``ConnectionLimits`` and the client's departure (``ClientDepartureHandler``), as
    /// handlers after the HTTP codec. `count` counts the open
    /// connections against `limits.maxConnections`.
    static func guardedHTTP1(_ limits: ConnectionLimits, count: ConnectionCount, logger: Logger) -> HTTPServerBuilder {
        // Configured timeouts are at most ten years: far inside `TimeAmount`'s nanoseconds.
        func amount(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1_000_000_000)) }
        let timeouts = ConnectionDeadlines.Timeouts(
            idle: amount(limits.idleTimeout), header: amount(limits.headerTimeout),
            bodyRead: amount(limits.bodyReadTimeout), write: amount(limits.writeTimeout))
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ConnectionCapHandler(count: count, logger: logger), MalformedRequestHandler(logger: logger),
                    ConnectionDeadlineHandler(timeouts: timeouts, logger: logger), ClientDepartureHandler(),
                ]))
    }
}
