import AsyncHTTPClient
import Foundation
import Imaging
import NIOCore

/// Downloads http(s) reference images without letting a client-supplied URL reach the
/// server's own network (server-side request forgery).
///
/// Every hop (the URL and each redirect, followed here, never by the HTTP client) is checked
/// before anything connects: the scheme must be http or https, the URL must carry no
/// credentials, and every address the host resolves to must be allowed by ``AddressPolicy``
/// unless the host is on ``Configuration/allowedHosts``. The connection then goes to the
/// address that was checked, so a DNS answer that changes between check and connect
/// (DNS rebinding) is never used:
/// - `http://`: the request URL's host is replaced by the checked IP literal and the original
///   `Host` header is sent.
/// - `https://` to a host name: a short-lived `HTTPClient` on the caller's event loop group is
///   made with `dnsOverride` mapping the name to the checked IP, so TLS still sends the name
///   (SNI) and verifies the certificate against it while the TCP connection goes to the IP.
///
/// Residual risks: only the first resolved address is tried (no happy eyeballs); a blocked
/// `getaddrinfo` call keeps its thread-pool thread until the system resolver gives up, though
/// the fetch itself still ends at the timeout.
public struct ReferenceFetcher: Sendable {
    /// Limits of one fetch.
    public struct Configuration: Sendable {
        /// The largest body accepted, in bytes.
        public var maxBytes: Int
        /// The time allowed for the whole fetch, all redirects included.
        public var timeout: Duration
        /// How many redirects are followed before giving up.
        public var maxRedirects: Int
        /// Operator allow-list: hosts that may resolve to private or reserved addresses, as
        /// `HOST` (any port) or `HOST:PORT` (that port only); IPv6 literals in brackets when a
        /// port follows (`[fd00::1]:8080`). See ``AllowedHost``.
        public var allowedHosts: Set<AllowedHost>

        public init(
            maxBytes: Int = 10 * 1024 * 1024,
            timeout: Duration = .seconds(10),
            maxRedirects: Int = 3,
            allowedHosts: Set<AllowedHost> = []
        ) {
            self.maxBytes = maxBytes
            self.timeout = timeout
            self.maxRedirects = maxRedirects
            self.allowedHosts = allowedHosts
        }

    }

    /// Resolves a host name to all its addresses for a port; empty when it does not resolve.
    typealias Resolver = @Sendable (_ host: String, _ port: Int) async throws -> [SocketAddress]

    public let configuration: Configuration
    let httpClient: HTTPClient
    let resolve: Resolver

    /// - Parameters:
    ///   - configuration: limits and the allow-list.
    ///   - httpClient: the client for plain-http hops and https to IP literals; the caller owns
    ///     its lifecycle. It must not follow redirects itself: create it with
    ///     ``makeHTTPClientConfiguration()`` (a client that did follow one fails the fetch).
    public init(configuration: Configuration = Configuration(), httpClient: HTTPClient) {
        self.init(configuration: configuration, httpClient: httpClient, resolver: HostResolver.resolve)
    }

    /// With a resolver of the caller's (tests map made-up names to loopback).
    init(configuration: Configuration, httpClient: HTTPClient, resolver: @escaping Resolver) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.resolve = resolver
    }

    /// An `HTTPClient` configuration fit for the fetcher: redirects are not followed, and a
    /// refused connection fails the fetch at once (by default the client retries with a
    /// backoff until its connect timeout, holding a worker for ten seconds on a dead host).
    public static func makeHTTPClientConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// Downloads an image, following at most `maxRedirects` redirects.
    /// - Returns: the body and its sniffed media type (`image/jpeg`, `image/png` or `image/webp`).
    /// - Throws: ``ReferenceFetchError``; or `CancellationError` when the calling task is
    ///   cancelled, whatever the download was doing (a cancelled fetch is not the URL's fault).
    public func fetch(_ url: URL) async throws -> (bytes: [UInt8], mediaType: String) {
        let timeout = configuration.timeout
        do {
            return try await withThrowingTaskGroup(of: (bytes: [UInt8], mediaType: String).self) { group in
                group.addTask { try await self.followRedirects(from: url) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw ReferenceFetchError.timedOut
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            // Checked first: once cancelled, the HTTP client's own errors and the timer's
            // CancellationError all mean the same thing.
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            if let error = error as? ReferenceFetchError { throw error }
            throw Self.transportError(error)
        }
    }

    // MARK: Hops

    func followRedirects(from url: URL) async throws -> (bytes: [UInt8], mediaType: String) {
        let deadline = NIODeadline.now() + TimeAmount(configuration.timeout)
        var current = url
        var redirects = 0
        while true {
            let target = try await check(current)
            switch try await send(target, deadline: deadline) {
            case .image(let bytes, let mediaType):
                return (bytes, mediaType)
            case .redirect(let location):
                guard redirects < configuration.maxRedirects else {
                    throw ReferenceFetchError.tooManyRedirects(limit: configuration.maxRedirects)
                }
                guard let next = URL(string: location, relativeTo: current)?.absoluteURL else {
                    throw ReferenceFetchError.invalidURL
                }
                redirects += 1
                current = next
            }
        }
    }

    /// Validates one URL and resolves its host to a checked address.
    func check(_ url: URL) async throws -> FetchTarget {
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
        if !configuration.allowedHosts.allows(host: host, port: port),
            addresses.contains(where: AddressPolicy.isForbidden)
        {
            throw ReferenceFetchError.forbiddenAddress(host: host)
        }
        var isIPv6 = false
        if case .v6 = pinned { isIPv6 = true }
        return FetchTarget(url: url, scheme: scheme, host: host, port: port, ip: ip, isIPv6: isIPv6)
    }
}
