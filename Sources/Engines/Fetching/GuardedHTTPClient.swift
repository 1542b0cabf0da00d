import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends requests to client-supplied URLs without letting them reach the server's own
/// network (server-side request forgery): the reference fetcher's GETs and the webhook
/// deliveries' POSTs.
///
/// Each URL is checked before anything connects (``check(_:)``): the scheme must be http or
/// https, the URL must carry no credentials, and every address the host resolves to must be
/// allowed by ``AddressPolicy`` unless the host is on the allow-list. The request then goes
/// to the address that was checked, so a DNS answer that changes between check and connect
/// (DNS rebinding) is never used:
/// - `http://`: the request URL's host is replaced by the checked IP literal and the original
///   `Host` header is sent.
/// - `https://` to a host name: a short-lived `HTTPClient` on the caller's event loop group is
///   made with `dnsOverride` mapping the name to the checked IP, so TLS still sends the name
///   (SNI) and verifies the certificate against it while the TCP connection goes to the IP.
///
/// Redirects are never followed here; a caller that follows them checks each hop.
public struct GuardedHTTPClient: Sendable {
    /// Resolves a host name to all its addresses for a port; empty when it does not resolve.
    typealias Resolver = @Sendable (_ host: String, _ port: Int) async throws -> [SocketAddress]

    /// Operator allow-list: hosts that may resolve to private or reserved addresses.
    public let allowedHosts: Set<AllowedHost>
    let httpClient: HTTPClient
    let resolve: Resolver

    /// - Parameters:
    ///   - httpClient: the client for plain-http requests and https to IP literals; the
    ///     caller owns its lifecycle. It must not follow redirects itself: create it with
    ///     ``makeHTTPClientConfiguration()``.
    public init(allowedHosts: Set<AllowedHost>, httpClient: HTTPClient) {
        self.init(allowedHosts: allowedHosts, httpClient: httpClient, resolver: HostResolver.resolve)
    }

    /// With a resolver of the caller's (tests map made-up names to loopback).
    init(allowedHosts: Set<AllowedHost>, httpClient: HTTPClient, resolver: @escaping Resolver) {
        self.allowedHosts = allowedHosts
        self.httpClient = httpClient
        self.resolve = resolver
    }

    /// An `HTTPClient` configuration fit for guarded requests: redirects are not followed,
    /// and a refused connection fails at once (by default the client retries with a backoff
    /// until its connect timeout, holding the caller for ten seconds on a dead host).
    public static func makeHTTPClientConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// Validates a URL and resolves its host to a checked address.
    /// - Throws: ``ReferenceFetchError`` (`unsupportedScheme`, `invalidURL`, `unresolvable`,
    ///   `forbiddenAddress`).
    public func check(_ url: URL) async throws -> FetchTarget {
        let scheme = url.scheme?.lowercased() ?? ""
        guard scheme == "http" || scheme == "https" else {
            throw ReferenceFetchError.unsupportedScheme(scheme)
        }
        guard url.user == nil, url.password == nil, var host = url.host, !host.isEmpty else {
            throw ReferenceFetchError.invalidURL
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = host.lowercased()
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw ReferenceFetchError.invalidURL }

        let addresses: [SocketAddress]
        if let literal = try? SocketAddress(ipAddress: host, port: port) {
            addresses = [literal]
        } else {
            addresses = try await resolve(host, port)
        }
        guard let pinned = addresses.first, let ip = pinned.ipAddress else {
            throw ReferenceFetchError.unresolvable(host: host)
        }
        if !allowedHosts.allows(host: host, port: port), addresses.contains(where: AddressPolicy.isForbidden) {
            throw ReferenceFetchError.forbiddenAddress(host: host)
        }
        var isIPv6 = false
        if case .v6 = pinned { isIPv6 = true }
        return FetchTarget(url: url, scheme: scheme, host: host, port: port, ip: ip, isIPv6: isIPv6)
    }

    /// Sends one request to a checked target's address and hands the answer to `read`
    /// (the response is only valid inside it). `headers` and `body` are sent as given;
    /// the `Host` header is the URL's.
    public func send<Result: Sendable>(
        to target: FetchTarget, method: HTTPMethod = .GET, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
        deadline: NIODeadline, read: (HTTPClientResponse) async throws -> Result
    ) async throws -> Result {
        func request(url: String) -> HTTPClientRequest {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers = headers
            if let body { request.body = .bytes(body) }
            return request
        }
        if target.scheme == "http" {
            var pinned = request(url: "http://\(target.addressLiteral):\(target.port)\(target.pathAndQuery)")
            pinned.headers.replaceOrAdd(name: "Host", value: target.hostHeader)
            return try await read(try await httpClient.execute(pinned, deadline: deadline))
        }
        let direct = request(url: target.url.absoluteString)
        if target.hostIsLiteral {
            return try await read(try await httpClient.execute(direct, deadline: deadline))
        }
        // TLS needs the name for SNI and the certificate check: a client of our own pins the
        // name to the checked IP, so no second DNS lookup happens.
        var configuration = Self.makeHTTPClientConfiguration()
        configuration.dnsOverride = [target.host: target.ip]
        if let original = target.url.host, original != target.host { configuration.dnsOverride[original] = target.ip }
        let client = HTTPClient(eventLoopGroup: httpClient.eventLoopGroup, configuration: configuration)
        do {
            let result = try await read(try await client.execute(direct, deadline: deadline))
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
