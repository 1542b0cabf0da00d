import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Store
import Synchronization

extension ServerMetrics {
    /// `GET /metrics`: the exposition in Prometheus' text format.
    func response() -> Response {
        Response(
            status: .ok, headers: [.contentType: Self.contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: exposition())))
    }
}

/// The listener `--metrics-port` opens beside the API, on the same host: `GET /metrics`
/// without a key, as a Prometheus scrape job expects, and nothing else. Whoever reaches the
/// port reads the metrics, so bind it where only the scraper does.
struct MetricsListener: Service {
    let metrics: ServerMetrics
    let host: String
    let port: Int
    /// Where the listener's port is published once it listens (port 0 picks one).
    let bound: BoundPort
    let logger: Logger

    func run() async throws {
        let router = Router(options: .autoGenerateHeadEndpoints)
        let metrics = metrics
        router.get("metrics") { _, _ in metrics.response() }
        let bound = bound
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "nano-banana-metrics"),
            onServerRunning: { channel in bound.publish(channel.localAddress?.port ?? 0) },
            logger: logger)
        do {
            try await app.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            let inUse = MetricsPortInUse(host: host, port: port)
            bound.fail(inUse)
            throw inUse
        } catch {
            bound.fail(error)
            throw error
        }
    }
}

/// The metrics port is taken: named, so the operator knows which of the two ports it is.
struct MetricsPortInUse: Error, CustomStringConvertible {
    let host: String
    let port: Int

    var description: String {
        "\(host):\(port) is already in use. Stop whatever listens there, or pick another --metrics-port."
    }
}

/// A listener's port, known once it listens.
public final class BoundPort: Sendable {
    private let port = Mutex<Int?>(nil)
    private let listening = Latch()

    func publish(_ value: Int) {
        port.withLock { $0 = value }
        listening.open()
    }

    /// The listener could not listen.
    func fail(_ error: any Error) {
        listening.fail(error)
    }

    /// Waits until the listener listens, and returns its port; throws when it could not.
    public func value() async throws -> Int {
        try await listening.wait()
        return port.withLock { $0 } ?? 0
    }
}
