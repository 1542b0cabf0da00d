import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import Engines

@Suite("Reference fetcher", .timeLimit(.minutes(1)))
struct ReferenceFetcherTests {
    static let client = HTTPClient(
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
        configuration: ReferenceFetcher.makeHTTPClientConfiguration()
    )
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 64)
    static let limit = 4096

    /// Maps the made-up name `images.example` to loopback; every other name is unknown.
    static let testResolver: ReferenceFetcher.Resolver = { host, port in
        host == "images.example" ? [try SocketAddress(ipAddress: "127.0.0.1", port: port)] : []
    }

    func fetcher(
        allowing allowedHosts: Set<AllowedHost> = ["127.0.0.1"],
        timeout: Duration = .seconds(30),
        resolver: ReferenceFetcher.Resolver? = nil
    ) -> ReferenceFetcher {
        let configuration = ReferenceFetcher.Configuration(
            maxBytes: Self.limit, timeout: timeout, maxRedirects: 3, allowedHosts: allowedHosts)
        guard let resolver else { return ReferenceFetcher(configuration: configuration, httpClient: Self.client) }
        return ReferenceFetcher(configuration: configuration, httpClient: Self.client, resolver: resolver)
    }

    /// The fake upstream's routes.
    static func route(_ head: HTTPRequestHead) -> FakeReply {
        let components = URLComponents(string: head.uri)
        let query = { (name: String) in components?.queryItems?.first { $0.name == name }?.value }
        switch components?.path {
        case "/image.png":
            return FakeReply(headers: [("Content-Type", "image/png")], body: png)
        case "/untyped":
            return FakeReply(body: png)
        case "/page.html":
            return FakeReply(headers: [("Content-Type", "text/html; charset=utf-8")], body: Array("<html>".utf8))
        case "/fake.png":
            return FakeReply(headers: [("Content-Type", "image/png")], body: Array("<html></html>".utf8))
        case "/big.png":
            return FakeReply(headers: [("Content-Type", "image/png")], body: png + Array(repeating: 0, count: limit))
        case "/big-chunked.png":
            return FakeReply(
                headers: [("Content-Type", "image/png")], body: png + Array(repeating: 0, count: limit),
                declaresLength: false)
        case "/redirect":
            return FakeReply(status: .found, headers: [("Location", query("to") ?? "/")])
        case "/hops":
            let remaining = Int(query("n") ?? "0") ?? 0
            guard remaining > 0 else { return FakeReply(headers: [("Content-Type", "image/png")], body: png) }
            return FakeReply(status: .movedPermanently, headers: [("Location", "hops?n=\(remaining - 1)")])
        case "/named.png":
            let host = head.headers.first(name: "Host") ?? ""
            guard host.hasPrefix("images.example:") else { return FakeReply(status: .misdirectedRequest) }
            return FakeReply(headers: [("Content-Type", "image/png")], body: png)
        case "/stall":
            return FakeReply(stalls: true)
        default:
            return FakeReply(status: .notFound)
        }
    }

    func withUpstream<T>(_ body: (FakeUpstream) async throws -> T) async throws -> T {
        try await FakeUpstream.with(route: Self.route, body)
    }

    func failure(_ fetcher: ReferenceFetcher, _ url: String) async -> ReferenceFetchError? {
        do {
            _ = try await fetcher.fetch(try #require(URL(string: url)))
            return nil
        } catch let error as ReferenceFetchError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    // MARK: Success

    @Test("a PNG from an allowed host comes back with its bytes and image/png")
    func fetchesPNG() async throws {
        try await withUpstream { upstream in
            let url = try #require(URL(string: "http://127.0.0.1:\(upstream.port)/image.png"))
            let result = try await fetcher().fetch(url)
            #expect(result.bytes == Self.png)
            #expect(result.mediaType == "image/png")
        }
    }

    @Test("an image without Content-Type is accepted by its magic bytes")
    func acceptsUntyped() async throws {
        try await withUpstream { upstream in
            let url = try #require(URL(string: "http://127.0.0.1:\(upstream.port)/untyped"))
            #expect(try await fetcher().fetch(url).mediaType == "image/png")
        }
    }

    @Test("three relative redirects are followed; a fourth is refused")
    func redirectLimit() async throws {
        try await withUpstream { upstream in
            let three = try #require(URL(string: "http://127.0.0.1:\(upstream.port)/hops?n=3"))
            #expect(try await fetcher().fetch(three).bytes == Self.png)
            let error = await failure(fetcher(), "http://127.0.0.1:\(upstream.port)/hops?n=4")
            #expect(error == .tooManyRedirects(limit: 3))
        }
    }

    @Test("plain http to a host name connects to the checked address and sends the original Host")
    func pinsHTTPToCheckedAddress() async throws {
        try await withUpstream { upstream in
            let fetcher = fetcher(allowing: ["images.example"], resolver: Self.testResolver)
            let url = try #require(URL(string: "http://images.example:\(upstream.port)/named.png"))
            #expect(try await fetcher.fetch(url).bytes == Self.png)
        }
    }

    @Test("https to a host name connects to the checked address, not a second DNS answer")
    func pinsHTTPSToCheckedAddress() async throws {
        try await withUpstream { upstream in
            let fetcher = fetcher(allowing: ["images.example"], timeout: .seconds(1), resolver: Self.testResolver)
            let error = await failure(fetcher, "https://images.example:\(upstream.port)/named.png")
            // The upstream speaks plain HTTP, so TLS never succeeds (the HTTP client retries the
            // connection until the deadline), but the connections reach the checked loopback
            // address: "images.example" is never looked up again.
            #expect(error == .timedOut || error == .transport("the TLS handshake with the host failed"))
            #expect(upstream.acceptedConnections >= 1)
        }
    }

    // MARK: Forbidden addresses

    @Test("the same fetch without the allow-list is refused before connecting")
    func loopbackRefused() async throws {
        try await withUpstream { upstream in
            let error = await failure(fetcher(allowing: []), "http://127.0.0.1:\(upstream.port)/image.png")
            #expect(error == .forbiddenAddress(host: "127.0.0.1"))
            #expect(upstream.acceptedConnections == 0)
        }
    }

    @Test(
        "private, link-local, metadata and IPv4-mapped literals are refused",
        arguments: [
            "http://10.0.0.1/a.png", "http://169.254.169.254/latest/meta-data/", "https://10.1.2.3/a.png",
            "http://[::1]/a.png", "http://[::ffff:127.0.0.1]/a.png", "http://[::ffff:10.0.0.1]/a.png",
            "http://[fd00:ec2::254]/latest/meta-data/", "http://0.0.0.0/a.png",
        ])
    func literalsRefused(url: String) async throws {
        let error = await failure(fetcher(), url)
        guard case .forbiddenAddress = error else {
            Issue.record("expected forbiddenAddress, got \(String(describing: error))")
            return
        }
    }

    @Test("localhost resolves to loopback and is refused")
    func localhostRefused() async throws {
        #expect(await failure(fetcher(), "http://localhost:9/a.png") == .forbiddenAddress(host: "localhost"))
    }

    @Test(
        "a redirect to a private address is refused without connecting to it",
        arguments: [
            ("http://169.254.169.254/latest/meta-data/iam", "169.254.169.254"),
            ("http://10.0.0.1/a.png", "10.0.0.1"),
            ("http://[::1]:PORT/image.png", "::1"),
        ])
    func redirectToPrivateRefused(target: String, host: String) async throws {
        try await withUpstream { upstream in
            let location = target.replacingOccurrences(of: "PORT", with: "\(upstream.port)")
            let encoded = try #require(location.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let error = await failure(fetcher(), "http://127.0.0.1:\(upstream.port)/redirect?to=\(encoded)")
            #expect(error == .forbiddenAddress(host: host))
            #expect(upstream.acceptedConnections == 1)
        }
    }

    // MARK: Refused responses and URLs

    @Test(
        "a body over the limit is refused, with or without Content-Length", arguments: ["/big.png", "/big-chunked.png"])
    func oversizeRefused(path: String) async throws {
        try await withUpstream { upstream in
            let error = await failure(fetcher(), "http://127.0.0.1:\(upstream.port)\(path)")
            #expect(error == .tooLarge(limit: Self.limit))
        }
    }

    @Test("a body that is not an image is refused even when labelled image/png")
    func notAnImage() async throws {
        try await withUpstream { upstream in
            #expect(await failure(fetcher(), "http://127.0.0.1:\(upstream.port)/fake.png") == .notAnImage)
        }
    }

    @Test("a Content-Type other than image/* is refused")
    func wrongContentType() async throws {
        try await withUpstream { upstream in
            let error = await failure(fetcher(), "http://127.0.0.1:\(upstream.port)/page.html")
            #expect(error == .wrongContentType("text/html; charset=utf-8"))
        }
    }

    @Test("an allow-list entry with a port allows that port and no other")
    func allowListPort() async throws {
        try await withUpstream { upstream in
            let url = "http://127.0.0.1:\(upstream.port)/image.png"
            let onPort = fetcher(allowing: [AllowedHost(host: "127.0.0.1", port: upstream.port)])
            let fetched = try await onPort.fetch(try #require(URL(string: url)))
            #expect(fetched.bytes == Self.png)
            let otherPort = fetcher(allowing: [AllowedHost(host: "127.0.0.1", port: upstream.port == 1 ? 2 : 1)])
            #expect(await failure(otherPort, url) == .forbiddenAddress(host: "127.0.0.1"))
        }
    }

    @Test("allow-list entries parse with and without ports, IPv6 in brackets")
    func allowListParsing() {
        #expect(AllowedHost(parsing: "IMG.internal") == AllowedHost(host: "img.internal"))
        #expect(AllowedHost(parsing: "img.internal:8443") == AllowedHost(host: "img.internal", port: 8443))
        #expect(AllowedHost(parsing: "fd00::1") == AllowedHost(host: "fd00::1"))
        #expect(AllowedHost(parsing: "[fd00::1]") == AllowedHost(host: "fd00::1"))
        #expect(AllowedHost(parsing: "[fd00::1]:80") == AllowedHost(host: "fd00::1", port: 80))
        #expect(AllowedHost(parsing: "[fd00::1]:80")?.description == "[fd00::1]:80")
        for bad in ["", "img:0", "img:70000", "img:x", "[fd00::1", "[fd00::1]x", "a/b", "u@h", ":80"] {
            #expect(AllowedHost(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("a host that refuses the connection fails the fetch at once, not at the timeout")
    func refusedAtOnce() async throws {
        // A port that was just listening and is now closed: the connection is refused.
        let port = try await withUpstream { $0.port }
        // A connect timeout longer than the fetch's: a client that retried refused
        // connections would end at the fetch's timeout (`timedOut`), not with the refusal.
        var configuration = ReferenceFetcher.makeHTTPClientConfiguration()
        configuration.timeout.connect = .seconds(50)
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        let fetcher = ReferenceFetcher(
            configuration: .init(timeout: .seconds(40), allowedHosts: ["127.0.0.1"]), httpClient: client)
        let error = await failure(fetcher, "http://127.0.0.1:\(port)/image.png")
        try await client.shutdown()
        #expect(error == .transport("could not connect to the host"))
    }

    @Test("a 404 is reported with its status")
    func notFound() async throws {
        try await withUpstream { upstream in
            #expect(await failure(fetcher(), "http://127.0.0.1:\(upstream.port)/missing") == .httpStatus(404))
        }
    }

    @Test("a server that never answers ends the fetch at the timeout")
    func timesOut() async throws {
        try await withUpstream { upstream in
            let error = await failure(fetcher(timeout: .milliseconds(300)), "http://127.0.0.1:\(upstream.port)/stall")
            #expect(error == .timedOut)
        }
    }

    @Test("ftp:// is refused as an unsupported scheme")
    func ftpRefused() async {
        #expect(await failure(fetcher(), "ftp://example.com/a.png") == .unsupportedScheme("ftp"))
    }

    @Test("credentials in the URL are refused")
    func credentialsRefused() async {
        #expect(await failure(fetcher(), "http://user:secret@127.0.0.1/a.png") == .invalidURL)
    }

    @Test("a name that does not resolve is reported as unresolvable")
    func unresolvable() async {
        let fetcher = fetcher(resolver: Self.testResolver)
        #expect(await failure(fetcher, "http://nowhere.example/a.png") == .unresolvable(host: "nowhere.example"))
    }

    @Test("error descriptions never name the resolved address")
    func descriptionHidesAddress() {
        let text = ReferenceFetchError.forbiddenAddress(host: "images.example").description
        #expect(text.contains("images.example"))
        #expect(text.contains("private or reserved"))
        #expect(!text.contains("127.0.0.1"))
    }
}
