import AsyncHTTPClient
import Foundation
import Imaging
import NIOCore

/// Downloads http(s) reference images without letting a client-supplied URL reach the
/// server's own network (server-side request forgery).
///
/// Every hop (the URL and each redirect, followed here, never by the HTTP client) goes
/// through ``GuardedHTTPClient``: checked before anything connects, and sent to the address
/// that was checked, unless the host is on ``Configuration/allowedHosts``.
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
    typealias Resolver = GuardedHTTPClient.Resolver

    public let configuration: Configuration
    /// Checks every hop and connects only to the address it checked.
    let client: GuardedHTTPClient

    /// - Parameters:
    ///   - configuration: limits and the allow-list.
    ///   - httpClient: the client for plain-http hops and https to IP literals; the caller owns
    ///     its lifecycle. It must not follow redirects itself: create it with
    ///     ``makeHTTPClientConfiguration()`` (a client that did follow one fails the fetch).
    public init(configuration: Configuration = Configuration(), httpClient: HTTPClient) {
        self.configuration = configuration
        self.client = GuardedHTTPClient(allowedHosts: configuration.allowedHosts, httpClient: httpClient)
    }

    /// With a resolver of the caller's (tests map made-up names to loopback).
    init(configuration: Configuration, httpClient: HTTPClient, resolver: @escaping Resolver) {
        self.configuration = configuration
        self.client = GuardedHTTPClient(
            allowedHosts: configuration.allowedHosts, httpClient: httpClient, resolver: resolver)
    }

    /// An `HTTPClient` configuration fit for the fetcher
    /// (``GuardedHTTPClient/makeHTTPClientConfiguration()``).
    public static func makeHTTPClientConfiguration() -> HTTPClient.Configuration {
        GuardedHTTPClient.makeHTTPClientConfiguration()
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
        try await client.check(url)
    }
}
