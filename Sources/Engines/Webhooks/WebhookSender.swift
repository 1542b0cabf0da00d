import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Posts one webhook delivery through the ``GuardedHTTPClient``: the URL is checked and
/// pinned like a reference image's (a private address is refused unless allowed), no
/// redirect is followed, and the attempt ends at its timeout. It never throws: every
/// failure is an answer for the delivery log.
public struct WebhookSender: Sendable {
    let client: GuardedHTTPClient

    public init(allowedHosts: Set<AllowedHost>, httpClient: HTTPClient) {
        client = GuardedHTTPClient(allowedHosts: allowedHosts, httpClient: httpClient)
    }

    init(client: GuardedHTTPClient) {
        self.client = client
    }

    /// How one attempt went.
    public struct Answer: Sendable, Equatable {
        /// The receiver's HTTP status; `nil` when there was none.
        public var statusCode: Int?
        /// Why there was no answer: a phrase with no addresses in it.
        public var error: String?
        public var latency: Duration
    }

    /// Posts `body` (JSON) to `url` with `headers`, within `timeout`.
    public func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Duration) async -> Answer {
        let started = ContinuousClock.now
        func answer(_ status: Int?, _ error: String?) -> Answer {
            Answer(statusCode: status, error: error, latency: ContinuousClock.now - started)
        }
        guard let parsed = URL(string: url) else { return answer(nil, "the URL is not valid") }
        do {
            let status = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    let target = try await client.check(parsed)
                    var fields = HTTPHeaders(headers)
                    fields.replaceOrAdd(name: "Content-Type", value: "application/json")
                    fields.replaceOrAdd(name: "User-Agent", value: "nano-banana-webhooks")
                    return try await client.send(
                        to: target, method: .POST, headers: fields, body: ByteBuffer(bytes: body),
                        deadline: .now() + TimeAmount(timeout)
                    ) { response in
                        // The answer's body is read (a little of it) so the connection can be reused.
                        _ = try? await response.body.collect(upTo: 64 * 1024)
                        return Int(response.status.code)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw HTTPClientError.deadlineExceeded
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            return answer(status, nil)
        } catch {
            return answer(nil, Self.phrase(for: error, timeout: timeout))
        }
    }

    /// A failure as a phrase for the delivery log, without addresses.
    static func phrase(for error: any Error, timeout: Duration) -> String {
        switch error {
        case ReferenceFetchError.forbiddenAddress:
            return "refused: the host resolves to a private or reserved address"
        case ReferenceFetchError.unresolvable:
            return "the host name did not resolve"
        case ReferenceFetchError.unsupportedScheme, ReferenceFetchError.invalidURL:
            return "the URL is not a valid http(s) URL"
        case let error as HTTPClientError
        where [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout].contains(error):
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            return "timed out after " + String(format: "%g", seconds) + " s"
        default:
            if error is CancellationError { return "cancelled" }
            if String(reflecting: type(of: error)).contains("SSL") { return "the TLS handshake failed" }
            if case .transport(let reason) = ReferenceFetcher.transportError(error) { return reason }
            return "could not connect"
        }
    }
}
