import CoreMetrics
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Counts requests and times them by route template (`/v2/requests/{id}/status`, never an
/// id), method and status. The first middleware of the router, so it sees the status the
/// error middleware rendered.
///
/// Not Hummingbird's `MetricsMiddleware`: that one makes its metrics through the global
/// `MetricsSystem` (once per process, so not per server instance) and with dotted names.
/// The time is taken until the response's head is ready, not until its body is written.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let instruments: HTTPInstruments

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            instruments.record(
                route: context.endpointPath, method: request.method, status: response.status.code,
                duration: .now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            instruments.record(
                route: context.endpointPath, method: request.method, status: status, duration: .now - start)
            throw error
        }
    }
}

/// The request counters and timers, made once per route, method and status: the hot path
/// takes one uncontended lock to find them (the registry itself would take one too, and
/// render the labels again).
final class HTTPInstruments: Sendable {
    private struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private struct Instruments {
        let requests: Counter
        let duration: CoreMetrics.Timer
    }

    private let factory: any MetricsFactory
    private let cache = Mutex<[Key: Instruments]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Methods outside the standard ones count as `other`, so a client cannot add series.
    private static let methods: Set<HTTPRequest.Method> = [
        .get, .head, .post, .put, .delete, .patch, .options, .connect, .trace,
    ]

    func record(route: String?, method: HTTPRequest.Method, status: Int, duration: Duration) {
        let key = Key(
            route: route ?? "unmatched", method: Self.methods.contains(method) ? method.rawValue : "other",
            status: status)
        let instruments = cache.withLock { cache in
            if let found = cache[key] { return found }
            let dimensions = [("route", key.route), ("method", key.method), ("status", String(key.status))]
            let made = Instruments(
                requests: Counter(label: MetricName.httpRequests, dimensions: dimensions, factory: factory),
                duration: CoreMetrics.Timer(label: MetricName.httpDuration, dimensions: dimensions, factory: factory))
            cache[key] = made
            return made
        }
        instruments.requests.increment()
        instruments.duration.record(duration: duration)
    }
}
